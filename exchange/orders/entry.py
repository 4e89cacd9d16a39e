"""Order entry: check a request against the commodity, then hand it to the book's writer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import asyncpg
import msgspec

from exchange.audit import AuditRecord
from exchange.auth import Principal
from exchange.bounds import check_time
from exchange.clock import nanoseconds
from exchange.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
    invalid_field,
)
from exchange.messages.orders import AmendOrder, Order, OrderStatus, PlaceOrder, Side
from exchange.messages.participants import Role
from exchange.orders import store
from exchange.orders.books import Books
from exchange.orders.gate import ROLE_REQUIRED_REASON, SUSPENDED_REASON
from exchange.orders.limits import check_band, check_size, check_storable
from exchange.orders.views import order_from_row
from exchange.orders.writer import BookWriter, Changed, Duplicate, Placed, Refused, Submission
from exchange.reference import CommoditySpec
from exchange.units import UnitsError
from matching import AmendOrder as EngineAmend
from matching import CancelOrder as EngineCancel
from matching import HaltBook, ResumeBook
from matching import PlaceOrder as EnginePlace
from matching.types import (
    CommodityId,
    OrderId,
    ParticipantId,
    RegionId,
    SelfTradePrevention,
    Sequence,
    TimeInForce,
    Timestamp,
)
from matching.types import Side as EngineSide

_ENCODER = msgspec.json.Encoder()
_CLOSED = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED}
_ZERO_SEQ, _ZERO_TS = Sequence(0), Timestamp(0)
BY_OPERATOR = "by_operator"


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


async def _writer(books: Books, code: str) -> BookWriter:
    writer = await books.writer(code)
    if writer is None:
        raise invalid_field("UNKNOWN_COMMODITY", "commodity", f"commodity {code!r} does not exist")
    return writer


def _lots(writer: BookWriter, text: str, field: str) -> int:
    try:
        lots = writer.spec.quantity_lots(text)
    except UnitsError as exc:
        raise invalid_field("QUANTITY_OFF_LOT", field, str(exc)) from None
    if lots <= 0:
        raise invalid_field("INVALID_QUANTITY", field, "must be greater than zero")
    return lots


def _ticks(writer: BookWriter, text: str) -> int:
    try:
        ticks = writer.spec.price_ticks(text)
    except UnitsError as exc:
        raise invalid_field("PRICE_OFF_TICK", "price", str(exc)) from None
    if ticks <= 0:
        raise invalid_field("INVALID_PRICE", "price", "must be greater than zero")
    return ticks


async def _region(books: Books, principal: Principal, body: PlaceOrder) -> tuple[int, str]:
    code = body.region or principal.home_region
    if code is None:
        raise invalid_field(
            "REGION_REQUIRED", "region", "give a region (the participant has no home region)"
        )
    region_id = await books.region_id(code)
    if region_id is None:
        raise invalid_field("UNKNOWN_REGION", "region", f"region {code!r} does not exist")
    return region_id, code


async def build_place(
    books: Books, principal: Principal, body: PlaceOrder
) -> tuple[BookWriter, Submission]:
    """Check everything that can be checked before the book; 4xx with nothing stored."""
    role = Role.SUPPLIER if body.side is Side.SELL else Role.BUYER
    if role not in principal.roles:
        raise ForbiddenError(f"a {body.side} order needs the {role} role", code="ROLE_REQUIRED")
    writer = await _writer(books, body.commodity)
    if writer.book.halted:
        raise invalid_field("MARKET_HALTED", "commodity", f"trading in {body.commodity} is halted")
    ticks = _ticks(writer, body.price)
    lots = _lots(writer, body.quantity, "quantity")
    check_storable(writer.spec, ticks, lots)
    check_band(writer.spec, ticks)
    check_size(writer.spec, lots)
    if lots < writer.spec.min_quantity_lots:
        raise invalid_field(
            "BELOW_MINIMUM_QUANTITY",
            "quantity",
            f"the minimum is {writer.spec.quantity_text(writer.spec.min_quantity_lots)}",
        )
    min_fill = 0
    if body.min_fill_quantity is not None:
        min_fill = _lots(writer, body.min_fill_quantity, "min_fill_quantity")
        if min_fill > lots:
            raise invalid_field("INVALID_MIN_FILL", "min_fill_quantity", "exceeds the quantity")
    expires_ns = None
    if body.expires_at is not None:
        check_time(body.expires_at, "expires_at")
        expires_ns = _ns(body.expires_at)
        if expires_ns <= nanoseconds(books.clock.now()):
            raise invalid_field("EXPIRY_IN_PAST", "expires_at", "is not in the future")
    region_id, region_code = await _region(books, principal, body)
    command = EnginePlace(
        sequence=_ZERO_SEQ,
        timestamp=_ZERO_TS,
        commodity=CommodityId(writer.spec.id),
        order_id=OrderId(0),
        owner=ParticipantId(principal.participant_id),
        side=EngineSide(body.side),
        price=ticks,
        quantity=lots,
        time_in_force=TimeInForce(body.time_in_force),
        min_fill=min_fill,
        expires_at=Timestamp(expires_ns) if expires_ns is not None else None,
        region=RegionId(region_id),
        client_ref=body.client_order_id,
        self_trade=SelfTradePrevention(body.self_trade_prevention),
    )
    submission = Submission(
        command,
        participant_id=principal.participant_id,
        client_order_id=body.client_order_id,
        request_hash=_ENCODER.encode(body),
        region_code=region_code,
    )
    return writer, submission


async def place(
    books: Books, pool: asyncpg.Pool, principal: Principal, body: PlaceOrder
) -> tuple[Order, bool]:
    """Place an order; (order, True) when this is a retry of an earlier identical request."""
    writer, submission = await build_place(books, principal, body)
    outcome = await writer.submit(submission)
    if isinstance(outcome, Placed):
        return outcome.order, False
    if isinstance(outcome, Refused):
        raise _barred(outcome.reason)  # suspended, or the role removed, since authentication
    assert isinstance(outcome, Duplicate)
    return await earlier_order(books, pool, principal, body, submission.request_hash), True


async def earlier_order(
    books: Books, pool: asyncpg.Pool, principal: Principal, body: PlaceOrder, request_hash: bytes
) -> Order:
    claim = await store.find_claim(pool, principal.participant_id, body.client_order_id)
    assert claim is not None, "a duplicate always has a committed claim"
    order_id, earlier_hash = claim
    if earlier_hash != request_hash:
        raise ConflictError(
            f"client_order_id {body.client_order_id!r} was used for a different order",
            code="DUPLICATE_CLIENT_ORDER_ID",
        )
    return await get_order(books, pool, principal, order_id)


def _barred(reason: str) -> ForbiddenError:
    """The 403 of an order or amend the trading gate refused."""
    if reason == ROLE_REQUIRED_REASON:
        return ForbiddenError(
            "the participant no longer holds the role for this side", code="ROLE_REQUIRED"
        )
    return ForbiddenError("the participant is suspended", code="PARTICIPANT_SUSPENDED")


async def _own_row(
    pool: asyncpg.Pool, principal: Principal, order_id: int, operator_may: bool = False
) -> asyncpg.Record:
    """The order's row if the caller owns it (or, with `operator_may`, is an operator)."""
    row = await store.fetch_order(pool, order_id) if 0 < order_id < 1 << 62 else None
    if row is None or (
        row["participant_id"] != principal.participant_id
        and not (operator_may and principal.is_operator)
    ):
        raise NotFoundError(f"order {order_id} does not exist", code="UNKNOWN_ORDER")
    return row


def _writer_of(books: Books, row: asyncpg.Record) -> BookWriter:
    writer = books.writer_by_id(row["commodity_id"])
    if writer is None:
        raise NotFoundError("the order's book is not running", code="UNKNOWN_ORDER")
    return writer


async def get_order(books: Books, pool: asyncpg.Pool, principal: Principal, order_id: int) -> Order:
    """One order: the caller's own, or any order for an operator."""
    row = await _own_row(pool, principal, order_id, operator_may=True)
    return order_from_row(_writer_of(books, row).spec, row)


def _closed(order_id: int, status: str) -> ConflictError:
    return ConflictError(f"order {order_id} is {status}", code="ORDER_CLOSED")


async def _change(writer: BookWriter, submission: Submission, order_id: int) -> Order:
    outcome = await writer.submit(submission)
    if isinstance(outcome, Refused):
        if outcome.reason == "halted":
            raise UnprocessableError("trading is halted", code="MARKET_HALTED")
        if outcome.reason in (SUSPENDED_REASON, ROLE_REQUIRED_REASON):
            raise _barred(outcome.reason)
        raise _closed(order_id, "no longer open")
    assert isinstance(outcome, Changed)
    assert outcome.order is not None
    return outcome.order


async def cancel(
    books: Books,
    pool: asyncpg.Pool,
    principal: Principal,
    order_id: int,
    audit: AuditRecord | None = None,
) -> Order:
    """Cancel the caller's order, or (an operator) anyone's: then with reason `by_operator`,
    and `audit` recorded in the same transaction as the cancel."""
    row = await _own_row(pool, principal, order_id, operator_may=True)
    if row["status"] in _CLOSED:
        raise _closed(order_id, row["status"])
    writer = _writer_of(books, row)
    owner = row["participant_id"]
    command = EngineCancel(
        sequence=_ZERO_SEQ,
        timestamp=_ZERO_TS,
        commodity=CommodityId(writer.spec.id),
        order_id=OrderId(order_id),
        owner=ParticipantId(owner),  # the engine cancels on the owner's behalf
    )
    submission = Submission(command)
    if owner != principal.participant_id:
        submission.reason = BY_OPERATOR
        if audit is not None:
            submission.audit = replace(audit, detail={**audit.detail, "participant_id": owner})
    return await _change(writer, submission, order_id)


async def amend(
    books: Books, pool: asyncpg.Pool, principal: Principal, order_id: int, body: AmendOrder
) -> Order:
    # checked against the order as the amends before this one left it: two concurrent amends,
    # each within the limits alone, could otherwise rest an order that no column can settle
    async with books.order_lock(order_id):
        return await _amend(books, pool, principal, order_id, body)


async def _amend(
    books: Books, pool: asyncpg.Pool, principal: Principal, order_id: int, body: AmendOrder
) -> Order:
    row = await _own_row(pool, principal, order_id)
    if row["status"] in _CLOSED:
        raise _closed(order_id, row["status"])
    writer = _writer_of(books, row)
    price = _ticks(writer, body.price) if body.price is not None else None
    quantity = _lots(writer, body.quantity, "quantity") if body.quantity is not None else None
    _check_amend(writer.spec, row, price, quantity)
    command = EngineAmend(
        sequence=_ZERO_SEQ,
        timestamp=_ZERO_TS,
        commodity=CommodityId(writer.spec.id),
        order_id=OrderId(order_id),
        owner=ParticipantId(principal.participant_id),
        price=price,
        quantity=quantity,
    )
    return await _change(writer, Submission(command), order_id)


def _check_amend(
    spec: CommoditySpec, row: asyncpg.Record, price: int | None, quantity: int | None
) -> None:
    """The amended order keeps the band, the maximum size and what the storage holds."""
    ticks = price if price is not None else row["price_ticks"]
    if quantity is None:
        # the stored total bounds the open quantity a price change applies to
        check_storable(spec, ticks, row["quantity_lots"])
    else:
        check_storable(spec, ticks, quantity, row["filled_lots"])
        check_size(spec, quantity)
    if price is not None:
        check_band(spec, price)


async def set_halted(books: Books, code: str, halted: bool) -> None:
    """Halt or resume a book through its journal (also records the commodity's status)."""
    writer = await books.writer(code)
    if writer is None:
        raise NotFoundError(f"commodity {code!r} does not exist", code="UNKNOWN_COMMODITY")
    kind = HaltBook if halted else ResumeBook
    await writer.submit(
        Submission(
            kind(sequence=_ZERO_SEQ, timestamp=_ZERO_TS, commodity=CommodityId(writer.spec.id))
        )
    )
