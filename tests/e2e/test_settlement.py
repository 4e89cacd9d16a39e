"""The end of the money's journey: release, partial release, refunds and cancellation.

Money gets into escrow through the arrangement in `escrow_arrangement.py` (the inbound flow is
built elsewhere); everything that leaves it goes through `exchange.payments.settle`. After
every test the ledger's trial balance holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from exchange.contracts import lifecycle
from exchange.contracts.views import contract_from_row
from exchange.errors import ApiError
from exchange.market.data import MarketData
from exchange.messages.contracts import Contract, ContractStatus
from exchange.payments import settle
from exchange.payments.notices import Notices
from tests.e2e.escrow_arrangement import (
    arrange_payment,
    arrange_states,
    available,
    escrow_held,
    revenue,
    trial_balance_holds,
)
from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api, commodity_body, new_participant, unique

S = ContractStatus
DELIVERED = (S.IN_DELIVERY, S.DELIVERED)
DISPUTED = (S.IN_DELIVERY, S.DELIVERED, S.DISPUTED)


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Any]:
    assert (await operator.post("/v1/regions", {"code": "EU-ST", "name": "Settle"})).status == 201
    seller, supplier = await new_participant(operator, ["supplier"], home_region="EU-ST")
    buyer, buyer_api = await new_participant(operator, ["buyer"], home_region="EU-ST")
    return {"supplier": supplier, "buyer": buyer_api, "seller_id": seller["id"],
            "buyer_id": buyer["id"]}  # fmt: skip


@pytest.fixture(autouse=True)
async def _ledger_balances(db: Any) -> AsyncIterator[None]:
    yield
    await trial_balance_holds(db)


async def _contract(operator: Api, desk: dict[str, Any], price: str, quantity: int) -> dict:
    """A fresh commodity (fee 25 bps) and one trade on it: its contract, awaiting payment."""
    body = commodity_body(tick_size="0.01", lot_size="1", min_quantity="1", fee_rate_bps=25)
    assert (await operator.post("/v1/commodities", body)).status == 201
    code = body["code"]
    order = {"client_order_id": unique("s-"), "commodity": code, "side": "sell",
             "price": price, "quantity": str(quantity)}  # fmt: skip
    assert (await desk["supplier"].post("/v1/orders", order)).status == 201
    buy = order | {"client_order_id": unique("s-"), "side": "buy"}
    assert (await desk["buyer"].post("/v1/orders", buy)).body["status"] == "filled"
    [contract] = (await desk["buyer"].get("/v1/contracts", commodity=code)).body["data"]
    assert contract["status"] == "awaiting_payment"
    return contract  # type: ignore[no-any-return]


def _minor(text: str) -> int:
    return int(Decimal(text) * 100)


async def _funded(db: Any, contract: dict, *states: ContractStatus) -> int:
    """Arrange the whole amount into escrow, funded, then through `states`; the amount."""
    now = datetime.now(UTC)
    amount = _minor(contract["amount"])
    await arrange_payment(db, contract["id"], amount, now, fund=True)
    await arrange_states(db, contract["id"], now, *states)
    return amount


Step = Callable[[Any, Notices], Awaitable[Contract]]


async def _settle(db: Any, market: MarketData, step: Step) -> Contract:
    """Run a settlement step in a transaction; publish what it collected once committed."""
    notices = Notices()
    async with db.transaction():
        contract = await step(db, notices)
    notices.publish(market)
    market.contract_changed(str(contract.status), contract)
    return contract


async def _user_socket(api: Api) -> Socket:
    sock = await connect(api)
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")
    return sock


async def _money(sock: Socket) -> dict[str, Any]:
    return await sock.next("money", skipping=("heartbeat", "contract", "user"))


async def _balances(db: Any, desk: dict[str, Any], contract_id: int) -> tuple[int, ...]:
    return (
        await available(db, desk["seller_id"]), await revenue(db),
        await available(db, desk["buyer_id"]), await escrow_held(db, contract_id),
    )  # fmt: skip


async def test_release_pays_the_supplier_less_the_fee_and_the_fee_to_revenue_in_one_chain(
    operator, desk, db, market
):
    contract = await _contract(operator, desk, "412.00", 3)
    amount = await _funded(db, contract, *DELIVERED)
    fee = _minor(contract["fee"])
    before = await _balances(db, desk, contract["id"])
    seller_sock, buyer_sock = (
        await _user_socket(desk["supplier"]),
        await _user_socket(desk["buyer"]),
    )
    now = datetime.now(UTC)

    done = await _settle(db, market, lambda c, n: settle.release(c, contract["id"], now, n, 1))

    after = await _balances(db, desk, contract["id"])
    assert (amount, fee) == (123600, 309)
    assert [a - b for a, b in zip(after, before, strict=True)] == [amount - fee, fee, 0, -amount]
    assert done.status is S.COMPLETED
    chain = await db.fetch(
        "SELECT amount, flags FROM ledger_transfers WHERE cause_kind = 'contract'"
        " AND cause_reference = $1 AND debit_account_id = (SELECT account_id FROM"
        " payment_accounts WHERE contract_id = $2) ORDER BY id", str(contract["id"]),
        contract["id"],
    )  # fmt: skip
    assert [r["amount"] for r in chain] == [amount - fee, fee]
    assert chain[0]["flags"] & 1
    assert not chain[1]["flags"] & 1
    notice = await _money(seller_sock)
    assert (notice["event"], notice["amount"], notice["contract_id"]) == (
        "released", "1232.91", contract["id"]
    )  # fmt: skip
    assert Decimal(notice["available"]) * 100 == after[0]
    told = await buyer_sock.next("contract", skipping=("heartbeat",))
    assert told["contract"]["status"] == "completed"


async def test_release_refuses_before_delivery_or_without_escrow_and_changes_nothing(
    operator, desk, db
):
    funded = await _contract(operator, desk, "100.00", 1)
    await _funded(db, funded)
    unpaid = await _contract(operator, desk, "100.00", 1)
    # delivered, but nothing was ever paid into its escrow
    await arrange_states(db, unpaid["id"], datetime.now(UTC), S.FUNDED, *DELIVERED)
    transfers = await db.fetchval("SELECT count(*) FROM ledger_transfers")
    now = datetime.now(UTC)

    for contract_id, code in ((funded["id"], "CONTRACT_STATE_CONFLICT"),
                              (unpaid["id"], "ESCROW_INSUFFICIENT")):  # fmt: skip
        with pytest.raises(ApiError) as refused:
            async with db.transaction():
                await settle.release(db, contract_id, now, Notices(), 1)
        assert (refused.value.status, refused.value.code) == (409, code)

    assert await db.fetchval("SELECT count(*) FROM ledger_transfers") == transfers
    assert (await desk["buyer"].get(f"/v1/contracts/{funded['id']}")).body["contract"][
        "status"
    ] == "funded"


@pytest.mark.parametrize(
    ("price", "quantity", "share"),
    [
        ("412.37", 3, Fraction(1, 2)),  # gross 61855.5 and fee 154.5: both round up
        ("77.77", 9, Fraction(4, 9)),  # fee 77.7...: up
        ("999.99", 7, Fraction(5, 6)),  # gross 583327.5: up
        ("333.33", 3, Fraction(2, 7)),
        ("0.07", 1, Fraction(1, 3)),  # no fee at all
    ],
)
async def test_partial_release_accounts_for_every_minor_unit(
    operator, desk, db, market, price, quantity, share
):
    contract = await _contract(operator, desk, price, quantity)
    amount = await _funded(db, contract, *DELIVERED)
    fee = _minor(contract["fee"])
    before = await _balances(db, desk, contract["id"])
    now = datetime.now(UTC)

    done = await _settle(
        db, market, lambda c, n: settle.release_partial(c, contract["id"], share, now, n, 1)
    )

    seller, fee_part, buyer, escrow = (
        a - b for a, b in zip(await _balances(db, desk, contract["id"]), before, strict=True)
    )
    assert seller + fee_part + buyer == amount == -escrow
    gross = seller + fee_part
    assert gross == (2 * amount * share.numerator + share.denominator) // (2 * share.denominator)
    assert fee_part == (2 * fee * gross + amount) // (2 * amount)  # half up
    assert done.status is S.PARTIALLY_REFUNDED


async def test_partial_release_by_delivered_quantity(operator, desk, db, market):
    contract = await _contract(operator, desk, "10.00", 9)
    amount = await _funded(db, contract, *DELIVERED)
    model = contract_from_row(await lifecycle.fetch_contract(db, contract["id"]))
    buyer_before = await available(db, desk["buyer_id"])
    share = settle.share_of_quantity(model, Decimal("4.5"))
    now = datetime.now(UTC)

    await _settle(
        db, market, lambda c, n: settle.release_partial(c, contract["id"], share, now, n, 1)
    )

    assert share == Fraction(1, 2)
    assert await available(db, desk["buyer_id"]) - buyer_before == amount // 2


async def test_full_refund_of_a_dispute_and_a_partial_one_that_leaves_the_rest(
    operator, desk, db, market
):
    whole = await _contract(operator, desk, "50.00", 2)
    part = await _contract(operator, desk, "50.00", 2)
    amount = await _funded(db, whole, *DISPUTED)
    await _funded(db, part, *DISPUTED)
    buyer_sock = await _user_socket(desk["buyer"])
    buyer_before = await available(db, desk["buyer_id"])
    now = datetime.now(UTC)

    refunded = await _settle(
        db, market, lambda c, n: settle.refund(c, whole["id"], None, now, n, 1, "claim upheld")
    )
    notice = await _money(buyer_sock)
    kept = await _settle(
        db, market, lambda c, n: settle.refund(c, part["id"], 2501, now, n, 1, "price cut")
    )
    second = await _money(buyer_sock)

    assert refunded.status is S.REFUNDED
    assert await escrow_held(db, whole["id"]) == 0
    assert (notice["event"], notice["amount"], notice["detail"]) == (
        "refunded", "100.00", "claim upheld"
    )  # fmt: skip
    assert kept.status is S.DISPUTED
    assert await escrow_held(db, part["id"]) == amount - 2501
    assert second["amount"] == "25.01"
    assert await available(db, desk["buyer_id"]) == buyer_before + amount + 2501
    # the rest is released later: the fee on it in proportion (25 bps of 100.00 = 0.25)
    seller_before, revenue_before = await available(db, desk["seller_id"]), await revenue(db)
    done = await _settle(db, market, lambda c, n: settle.release(c, part["id"], now, n, 1))
    assert done.status is S.PARTIALLY_REFUNDED
    fee_part = (2 * 25 * (amount - 2501) + amount) // (2 * amount)
    assert await revenue(db) - revenue_before == fee_part == 19
    assert await available(db, desk["seller_id"]) - seller_before == amount - 2501 - fee_part


async def test_refunds_refuse_what_the_escrow_or_state_does_not_allow(operator, desk, db):
    disputed = await _contract(operator, desk, "50.00", 1)
    funded = await _contract(operator, desk, "50.00", 1)
    await _funded(db, disputed, *DISPUTED)
    await _funded(db, funded)
    transfers = await db.fetchval("SELECT count(*) FROM ledger_transfers")
    now = datetime.now(UTC)
    cases = [
        (disputed["id"], 5001, 409, "ESCROW_INSUFFICIENT"),
        (funded["id"], None, 409, "CONTRACT_STATE_CONFLICT"),  # all of it: cancel instead
        (disputed["id"], 0, 422, "INVALID_AMOUNT"),
    ]

    for contract_id, amount, status, code in cases:
        with pytest.raises(ApiError) as refused:
            async with db.transaction():
                await settle.refund(db, contract_id, amount, now, Notices(), 1)
        assert (refused.value.status, refused.value.code) == (status, code)

    assert await db.fetchval("SELECT count(*) FROM ledger_transfers") == transfers
    assert await escrow_held(db, disputed["id"]) == 5000


async def test_cancel_before_funding_returns_only_a_partial_payment(operator, desk, db):
    partly = await _contract(operator, desk, "80.00", 5)
    unpaid = await _contract(operator, desk, "80.00", 5)
    await arrange_payment(db, partly["id"], 12345, datetime.now(UTC), fund=False)
    buyer_before = await available(db, desk["buyer_id"])
    seller_sock, buyer_sock = (
        await _user_socket(desk["supplier"]),
        await _user_socket(desk["buyer"]),
    )

    first = await operator.post(f"/v1/contracts/{partly['id']}/cancel", {"reason": "sanctions"})
    notice = await _money(buyer_sock)
    transfers = await db.fetchval("SELECT count(*) FROM ledger_transfers")
    second = await operator.post(f"/v1/contracts/{unpaid['id']}/cancel", {"reason": "duplicate"})

    assert first.status == 200, first.body
    assert first.body["status"] == "cancelled"
    assert await available(db, desk["buyer_id"]) == buyer_before + 12345
    assert await escrow_held(db, partly["id"]) == 0
    assert (notice["event"], notice["amount"]) == ("refunded", "123.45")
    assert second.status == 200
    assert second.body["status"] == "cancelled"
    assert await db.fetchval("SELECT count(*) FROM ledger_transfers") == transfers  # nothing
    for sock in (seller_sock, buyer_sock):
        told = await sock.next("contract", skipping=("heartbeat", "money"))
        assert (told["event"], told["contract"]["id"]) == ("cancelled", partly["id"])
    history = (await desk["buyer"].get(f"/v1/contracts/{partly['id']}")).body["history"]
    assert (history[-1]["to_status"], history[-1]["reason"]) == ("cancelled", "sanctions")
    audited = await db.fetchval(
        "SELECT detail->>'returned' FROM audit_log WHERE action = 'contract.cancelled'"
        " AND target = $1", f"contract:{partly['id']}",
    )  # fmt: skip
    assert audited == "123.45"


async def test_cancel_after_funding_returns_the_escrow_in_full(operator, desk, db):
    contract = await _contract(operator, desk, "80.00", 5)
    amount = await _funded(db, contract)
    buyer_before = await available(db, desk["buyer_id"])

    reply = await operator.post(f"/v1/contracts/{contract['id']}/cancel", {"reason": "recall"})

    assert reply.status == 200
    assert reply.body["status"] == "cancelled"
    assert await available(db, desk["buyer_id"]) == buyer_before + amount
    assert await escrow_held(db, contract["id"]) == 0


async def test_cancel_refuses_other_states_other_roles_and_no_reason(operator, desk, db):
    delivered = await _contract(operator, desk, "80.00", 1)
    await _funded(db, delivered, *DELIVERED)
    held = await escrow_held(db, delivered["id"])
    path = f"/v1/contracts/{delivered['id']}/cancel"

    late = await operator.post(path, {"reason": "too late"})
    by_buyer = await desk["buyer"].post(path, {"reason": "changed my mind"})
    no_reason = await operator.post(path, {})
    unknown = await operator.post("/v1/contracts/999999999/cancel", {"reason": "x"})

    assert (late.status, late.code) == (409, "CONTRACT_STATE_CONFLICT")
    assert late.headers["Content-Type"].startswith("application/problem+json")
    assert (by_buyer.status, by_buyer.code) == (403, "ROLE_REQUIRED")
    assert no_reason.status == 422
    assert (unknown.status, unknown.code) == (404, "UNKNOWN_CONTRACT")
    assert await escrow_held(db, delivered["id"]) == held


async def test_operators_release_and_refund_through_the_api(operator, desk, db):
    whole = await _contract(operator, desk, "10.00", 9)
    short = await _contract(operator, desk, "10.00", 9)
    claim = await _contract(operator, desk, "10.00", 9)
    amount = await _funded(db, whole, *DELIVERED)
    await _funded(db, short, *DELIVERED)
    await _funded(db, claim, *DISPUTED)
    seller_before = await available(db, desk["seller_id"])
    buyer_before = await available(db, desk["buyer_id"])

    released = await operator.post(f"/v1/contracts/{whole['id']}/release", {"reason": "ok"})
    partly = await operator.post(
        f"/v1/contracts/{short['id']}/release", {"reason": "short", "delivered_quantity": "6"}
    )
    refunded = await operator.post(
        f"/v1/contracts/{claim['id']}/refund", {"reason": "damaged", "amount": "30.00"}
    )
    too_precise = await operator.post(
        f"/v1/contracts/{claim['id']}/refund", {"reason": "x", "amount": "0.001"}
    )
    everything = await operator.post(
        f"/v1/contracts/{short['id']}/release", {"reason": "x", "delivered_quantity": "9"}
    )
    again = await operator.post(f"/v1/contracts/{whole['id']}/release", {"reason": "twice"})
    by_buyer = await desk["buyer"].post(f"/v1/contracts/{claim['id']}/refund", {"reason": "x"})

    assert (released.status, released.body["status"]) == (200, "completed")
    assert (partly.status, partly.body["status"]) == (200, "partially_refunded")
    assert (refunded.status, refunded.body["status"]) == (200, "disputed")
    fee = _minor(whole["fee"])  # 9000 x 25 bps = 22.5 -> 23
    short_fee = (2 * fee * 6000 + amount) // (2 * amount)  # on 60.00 of 90.00: 15.33 -> 15
    assert await available(db, desk["seller_id"]) - seller_before == (
        amount - fee + 6000 - short_fee
    )
    assert await available(db, desk["buyer_id"]) - buyer_before == 3000 + 3000
    assert await escrow_held(db, claim["id"]) == amount - 3000
    assert (too_precise.status, too_precise.code) == (422, "INVALID_AMOUNT")
    assert (everything.status, everything.code) == (422, "INVALID_SHARE")  # that is a release
    assert (again.status, again.code) == (409, "CONTRACT_STATE_CONFLICT")
    assert (by_buyer.status, by_buyer.code) == (403, "ROLE_REQUIRED")
    audited = await db.fetch(
        "SELECT action, detail->>'reason' AS reason FROM audit_log WHERE target = $1",
        f"contract:{short['id']}",
    )
    assert [(r["action"], r["reason"]) for r in audited] == [("contract.release_partial", "short")]
