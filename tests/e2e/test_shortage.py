"""Shortage: the buyer settles a short delivery pro rata (the supplier is paid for the share
delivered, its fee in proportion, the buyer refunded the rest) or by a backorder (the rest stays
in escrow while routing makes a second attempt; one delivered in full is accepted as a whole,
one delivered short again, or none by the backorder's date, is settled pro rata on all
delivered by the outcome sweep). The second attempt is arranged as the routing code records
it. The ledger's trial balance
holds after every test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from exchange.clock import ManualClock
from exchange.delivery.outcomes import OutcomeSweep
from tests.factories import Api
from tests.outcomes_support import (  # noqa: F401
    DAY,
    Desk,
    arrange_backorder_delivered,
    arrange_delivered,
    available_minor,
    escrow_minor,
    funded,
    ledger_holds,
    manual_clock,
    minor,
    new_desk,
    outcome_center,
    outcome_sweep,
    status_of,
)


@pytest.fixture(scope="module")
async def desk(operator: Api) -> Desk:
    return await new_desk(operator)


async def _money(desk: Desk) -> tuple[int, int, int]:
    return (await available_minor(desk.supplier), await available_minor(desk.buyer_api),
            await escrow_minor(desk.buyer_api))  # fmt: skip


def _moved(after: tuple[int, ...], before: tuple[int, ...]) -> list[int]:
    return [a - b for a, b in zip(after, before, strict=True)]


def _pro_rata(amount: int, fee: int, delivered: int, of: int) -> tuple[int, int]:
    """(supplier's net, buyer's refund) for `delivered`/`of` of a contract (docs/payments.md)."""
    gross = (2 * amount * delivered + of) // (2 * of)
    fee_part = (2 * fee * gross + amount) // (2 * amount)
    return gross - fee_part, amount - gross


async def test_pro_rata_pays_the_delivered_share_and_refunds_the_rest(
    desk, clock: ManualClock, database_url
):
    made = await funded(desk, clock, 777, 9)
    await arrange_delivered(database_url, made["id"], clock.now(), "4")
    amount, fee = minor(made["amount"]), minor(made["fee"])
    before = await _money(desk)

    reply = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/shortage",
                                      {"settle": "pro_rata"})  # fmt: skip

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "partially_refunded"
    seller, buyer = _pro_rata(amount, fee, 4, 9)
    assert (seller, buyer) == (310023, 388500)  # 310800 gross less a 777 fee
    assert _moved(await _money(desk), before) == [seller, buyer, -amount]


async def test_a_backorder_delivered_in_full_is_accepted_as_a_whole(
    desk, clock: ManualClock, database_url, db
):
    made = await funded(desk, clock, 500, 4)
    await arrange_delivered(database_url, made["id"], clock.now(), "3")
    amount, fee = minor(made["amount"]), minor(made["fee"])
    by = clock.now() + 5 * DAY
    before = await _money(desk)

    reply = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/shortage",
                                      {"settle": "backorder", "by": by.isoformat()})  # fmt: skip

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "delivered"  # routing makes attempt 2
    assert await _money(desk) == before  # the rest waits in escrow
    pending = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/shortage",
                                        {"settle": "pro_rata"})  # fmt: skip
    assert (pending.status, pending.code) == (409, "BACKORDER_PENDING")
    row = await db.fetchrow(
        "SELECT shortage_settlement, backorder_due_at FROM contracts WHERE id = $1", made["id"]
    )
    assert (row["shortage_settlement"], row["backorder_due_at"]) == ("backorder", by)
    clock.advance(2 * DAY)
    await arrange_backorder_delivered(database_url, made["id"], clock.now(), "4")  # the rest
    accepted = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/accept")

    assert accepted.status == 200, accepted.body
    assert accepted.body["status"] == "completed"
    assert _moved(await _money(desk), before) == [amount - fee, 0, -amount]  # on time: no penalty


async def test_a_backorder_short_again_is_settled_pro_rata_on_all_delivered(
    operator, clock: ManualClock, database_url, sweep: OutcomeSweep
):
    desk = await new_desk(operator)
    made = await funded(desk, clock, 500, 8)
    await arrange_delivered(database_url, made["id"], clock.now(), "5")
    amount, fee = minor(made["amount"]), minor(made["fee"])
    body = {"settle": "backorder", "by": (clock.now() + 3 * DAY).isoformat()}
    assert (await desk.buyer_api.post(f"/v1/contracts/{made['id']}/shortage", body)).status == 200
    clock.advance(DAY)
    await arrange_backorder_delivered(database_url, made["id"], clock.now(), "7")  # 2 of 3
    before = await _money(desk)
    again = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/shortage", body)

    report = await sweep.run_once()

    assert (again.status, again.code) == (409, "BACKORDER_USED")
    assert made["id"] in report.pro_rata
    seller, buyer = _pro_rata(amount, fee, 7, 8)
    assert _moved(await _money(desk), before) == [seller, buyer, -amount]
    assert await status_of(desk.buyer_api, made["id"]) == "partially_refunded"


async def test_a_shortage_is_refused_when_not_short_or_not_delivered_or_with_a_bad_date(
    desk, clock: ManualClock, database_url
):
    full = await funded(desk, clock, 100, 2)
    await arrange_delivered(database_url, full["id"], clock.now())
    short = await funded(desk, clock, 100, 2)
    await arrange_delivered(database_url, short["id"], clock.now(), "1")
    undelivered = await funded(desk, clock, 100, 2)
    before = await _money(desk)
    path = "/v1/contracts/{}/shortage"
    past = {"settle": "backorder", "by": (clock.now() - timedelta(seconds=1)).isoformat()}

    replies = [
        await desk.buyer_api.post(path.format(full["id"]), {"settle": "pro_rata"}),
        await desk.buyer_api.post(path.format(undelivered["id"]), {"settle": "pro_rata"}),
        await desk.buyer_api.post(path.format(short["id"]), past),
        await desk.buyer_api.post(path.format(short["id"]), {"settle": "backorder"}),
        await desk.supplier.post(path.format(short["id"]), {"settle": "pro_rata"}),
    ]

    assert [(r.status, r.code) for r in replies] == [
        (409, "NOT_SHORT"), (409, "CONTRACT_STATE_CONFLICT"), (422, "INVALID_BACKORDER_DATE"),
        (422, "VALIDATION_FAILED"), (403, "ROLE_REQUIRED"),
    ]  # fmt: skip
    assert await _money(desk) == before
    assert await status_of(desk.buyer_api, short["id"]) == "delivered"
    # settle what is left delivered, for the other tests
    for made, body in ((full, None), (short, {"settle": "pro_rata"})):
        action = "accept" if body is None else "shortage"
        reply = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/{action}", body)
        assert reply.status == 200, reply.body


async def test_a_backorder_not_delivered_by_its_date_is_settled_pro_rata(
    operator, clock: ManualClock, database_url, sweep: OutcomeSweep
):
    desk = await new_desk(operator)
    made = await funded(desk, clock, 300, 5)
    await arrange_delivered(database_url, made["id"], clock.now(), "2")
    amount, fee = minor(made["amount"]), minor(made["fee"])
    by = clock.now() + 10 * DAY
    body = {"settle": "backorder", "by": by.isoformat()}
    assert (await desk.buyer_api.post(f"/v1/contracts/{made['id']}/shortage", body)).status == 200
    before = await _money(desk)

    clock.advance(8 * DAY)  # past the first delivery's claim window: the backorder is under way
    waiting = await sweep.run_once()
    clock.set(by)  # its last moment: the rest may still come
    early = await sweep.run_once()
    clock.advance(timedelta(seconds=1))
    late = await sweep.run_once()

    assert made["id"] not in waiting.pro_rata + waiting.accepted + early.pro_rata
    assert made["id"] in late.pro_rata
    seller, buyer = _pro_rata(amount, fee, 2, 5)
    assert _moved(await _money(desk), before) == [seller, buyer, -amount]
    detail = (await desk.buyer_api.get(f"/v1/contracts/{made['id']}")).body
    assert detail["contract"]["status"] == "partially_refunded"
    assert [h["to_status"] for h in detail["history"]][-2:] == ["delivered", "partially_refunded"]
