"""The rules of issue 11 for RFQs and quotes that tests/e2e/test_rfqs.py leaves open, each
refusal checked for its problem+json `code` and for leaving everything as it was (the RFQ, its
quotes with their history, and the buyer's contracts, read again): a revision above the
maximum price or the RFQ's quantity; quotes, revisions and withdrawals from the moment of
closing; a suspended supplier; an uninvited supplier, who cannot touch another's quote either;
awards a second past the grace, of a lapsed quote, beyond what a revised quote now offers, by
anyone but the RFQ's buyer, or twice at once; an RFQ nobody quoted, past its grace."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from exchange.clock import ManualClock
from exchange.negotiation.awards import AWARD_GRACE
from tests.e2e.test_rfqs import award, create, desk, quote, quote_body, rfq_body  # noqa: F401
from tests.factories import Api, Reply, new_participant
from tests.payments_support import manual_clock, paying_center  # noqa: F401

Desk = dict[str, Any]


async def state(where: Desk, rfq_id: int) -> tuple[Any, Any, list[Any]]:
    """What the buyer sees: the RFQ, its quotes (with history) and its contracts from RFQs."""
    rfq = await where["buyer_api"].get(f"/v1/rfqs/{rfq_id}")
    quotes = await where["buyer_api"].get(f"/v1/rfqs/{rfq_id}/quotes")
    listed = await where["buyer_api"].get("/v1/contracts", commodity=where["code"], limit="500")
    assert (rfq.status, quotes.status, listed.status) == (200, 200, 200)
    made = [c["id"] for c in listed.body["data"] if c["source"] == "rfq"]
    return rfq.body, quotes.body, made


def refused(reply: Reply, status: int, code: str) -> None:
    assert (reply.status, reply.body["code"]) == (status, code), reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")


async def test_a_revision_above_the_maximum_price_or_the_rfqs_quantity_changes_nothing(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    mine = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    before = await state(desk, rfq["id"])
    dear = await desk["a_api"].patch(f"/v1/quotes/{mine['id']}", {"price": "150.01"})
    dearer = await desk["a_api"].patch(f"/v1/quotes/{mine['id']}", {"price": "151.00"})
    more = await desk["a_api"].patch(f"/v1/quotes/{mine['id']}", {"quantity": "101"})
    less = await desk["a_api"].patch(f"/v1/quotes/{mine['id']}", {"quantity": "9"})
    empty = await desk["a_api"].patch(f"/v1/quotes/{mine['id']}", {})

    refused(dear, 422, "PRICE_OFF_TICK")  # 150.01 is not on the 1.00 tick
    refused(empty, 422, "VALIDATION_FAILED")  # a revision that changes nothing is no revision
    refused(dearer, 422, "ABOVE_MAX_PRICE")
    refused(more, 422, "ABOVE_RFQ_QUANTITY")
    refused(less, 422, "BELOW_MINIMUM")
    after = await state(desk, rfq["id"])
    assert after == before
    assert [(q["revision"], len(q["history"]), q["price"]) for q in after[1]] == [(1, 1, "120.00")]


async def test_from_the_moment_of_closing_no_quote_revision_or_withdrawal(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    closes = clock.now() + timedelta(minutes=30)
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock, closes_at=closes.isoformat()))
    mine = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    clock.set(closes)  # closing is the moment itself: open only before it
    before = await state(desk, rfq["id"])
    late = await desk["b_api"].post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))
    revision = await desk["a_api"].patch(f"/v1/quotes/{mine['id']}", {"price": "99.00"})
    withdrawal = await desk["a_api"].post(f"/v1/quotes/{mine['id']}/withdraw")
    cancel = await desk["buyer_api"].post(f"/v1/rfqs/{rfq['id']}/cancel")

    for reply in (late, revision, withdrawal, cancel):
        refused(reply, 409, "RFQ_NOT_OPEN")
    assert await state(desk, rfq["id"]) == before
    assert before[0]["status"] == "closed"
    assert [(q["status"], q["price"]) for q in before[1]] == [("submitted", "120.00")]


async def test_a_suspended_supplier_cannot_quote_or_revise(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
    operator: Api,
) -> None:
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    supplier, api = await new_participant(operator, ["supplier"], home_region=desk["regions"][1])
    other, other_api = await new_participant(operator, ["supplier"], home_region=desk["regions"][1])
    mine = await quote(api, rfq["id"], quote_body(desk, clock))
    assert (await operator.post(f"/v1/participants/{supplier['id']}/suspend")).status == 200
    assert (await operator.post(f"/v1/participants/{other['id']}/suspend")).status == 200
    before = await state(desk, rfq["id"])
    fresh = await other_api.post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))
    revision = await api.patch(f"/v1/quotes/{mine['id']}", {"price": "99.00"})
    after = await state(desk, rfq["id"])
    await operator.post(f"/v1/participants/{supplier['id']}/reactivate")
    await operator.post(f"/v1/participants/{other['id']}/reactivate")

    refused(fresh, 403, "PARTICIPANT_SUSPENDED")
    refused(revision, 403, "PARTICIPANT_SUSPENDED")
    assert after == before
    assert [(q["supplier_id"], q["price"]) for q in after[1]] == [(supplier["id"], "120.00")]


async def test_an_uninvited_supplier_cannot_quote_or_touch_an_invited_ones_quote(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock, invited=[desk["a"]["id"]]))
    invited = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    before = await state(desk, rfq["id"])
    quoted = await desk["b_api"].post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))
    revised = await desk["b_api"].patch(f"/v1/quotes/{invited['id']}", {"price": "90.00"})
    withdrawn = await desk["b_api"].post(f"/v1/quotes/{invited['id']}/withdraw")
    listed = await desk["b_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")

    refused(quoted, 404, "UNKNOWN_RFQ")
    refused(revised, 404, "UNKNOWN_QUOTE")
    refused(withdrawn, 404, "UNKNOWN_QUOTE")
    refused(listed, 404, "UNKNOWN_RFQ")
    assert await state(desk, rfq["id"]) == before
    assert [(q["id"], q["status"]) for q in before[1]] == [(invited["id"], "submitted")]


async def closed_rfq_with_a_quote(where: Desk, clock: ManualClock) -> tuple[Any, Any, datetime]:
    """An RFQ closing in an hour with a's quote valid for five days: (RFQ, quote, closing)."""
    closes = clock.now() + timedelta(hours=1)
    rfq = await create(where["buyer_api"], rfq_body(where, clock, closes_at=closes.isoformat()))
    valid = (clock.now() + timedelta(days=5)).isoformat()
    return (
        rfq,
        await quote(where["a_api"], rfq["id"], quote_body(where, clock, valid_until=valid)),
        closes,
    )


async def test_an_award_a_second_past_the_grace_is_refused_and_changes_nothing(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    rfq, mine, closes = await closed_rfq_with_a_quote(desk, clock)
    clock.set(closes + AWARD_GRACE + timedelta(seconds=1))
    before = await state(desk, rfq["id"])
    late = await award(desk["buyer_api"], rfq["id"], [(mine["id"], "50")])

    refused(late, 409, "RFQ_EXPIRED")
    assert await state(desk, rfq["id"]) == before
    assert before[0]["status"] in ("closed", "expired")  # expired once the sweep stores it
    assert [q["status"] for q in before[1]] == ["submitted"]


async def test_an_rfq_nobody_quoted_is_over_after_its_grace(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    closes = clock.now() + timedelta(hours=1)
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock, closes_at=closes.isoformat()))
    elsewhere = await create(desk["buyer_api"], rfq_body(desk, clock, closes_at=closes.isoformat()))
    theirs = await quote(desk["a_api"], elsewhere["id"], quote_body(desk, clock))
    clock.set(closes + AWARD_GRACE + timedelta(minutes=1))
    before = await state(desk, rfq["id"])
    awarded = await award(desk["buyer_api"], rfq["id"], [(theirs["id"], "50")])
    quoted = await desk["a_api"].post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))
    cancelled = await desk["buyer_api"].post(f"/v1/rfqs/{rfq['id']}/cancel")
    open_ones = await desk["a_api"].get("/v1/rfqs", limit="500")
    everything = await desk["buyer_api"].get("/v1/rfqs", limit="500", include_closed="true")

    refused(awarded, 409, "RFQ_EXPIRED")
    refused(quoted, 409, "RFQ_NOT_OPEN")
    refused(cancelled, 409, "RFQ_NOT_OPEN")
    assert await state(desk, rfq["id"]) == before
    assert before[0]["status"] in ("closed", "expired")  # expired once the sweep stores it
    assert before[1] == []
    assert rfq["id"] not in [r["id"] for r in open_ones.body["data"]]
    assert rfq["id"] in [r["id"] for r in everything.body["data"]]


async def test_a_lapsed_quote_cannot_be_awarded(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    short = (clock.now() + timedelta(minutes=10)).isoformat()
    lapsing = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, valid_until=short))
    clock.advance(timedelta(minutes=10))  # valid until that moment, not at it
    before = await state(desk, rfq["id"])
    reply = await award(desk["buyer_api"], rfq["id"], [(lapsing["id"], "50")])

    refused(reply, 409, "QUOTE_NOT_LIVE")
    assert await state(desk, rfq["id"]) == before
    assert (before[0]["status"], [q["status"] for q in before[1]]) == ("open", ["lapsed"])


async def test_an_award_counts_the_quotes_latest_revision(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    mine = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))  # 50 offered
    cut = await desk["a_api"].patch(f"/v1/quotes/{mine['id']}", {"quantity": "20"})
    assert cut.status == 200, cut.body
    before = await state(desk, rfq["id"])
    reply = await award(desk["buyer_api"], rfq["id"], [(mine["id"], "30")])

    refused(reply, 422, "ABOVE_QUOTE_QUANTITY")
    assert await state(desk, rfq["id"]) == before


async def test_only_the_rfqs_buyer_awards_it(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    mine = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    before = await state(desk, rfq["id"])
    by_other_buyer = await award(desk["other_buyer_api"], rfq["id"], [(mine["id"], "50")])
    by_supplier = await award(desk["a_api"], rfq["id"], [(mine["id"], "50")])

    refused(by_other_buyer, 404, "UNKNOWN_RFQ")
    refused(by_supplier, 403, "ROLE_REQUIRED")
    assert await state(desk, rfq["id"]) == before


async def test_two_awards_at_once_make_contracts_once(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
) -> None:
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    by_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    by_b = await quote(desk["b_api"], rfq["id"], quote_body(desk, clock))
    _, _, made_before = await state(desk, rfq["id"])
    replies = await asyncio.gather(
        award(desk["buyer_api"], rfq["id"], [(by_a["id"], "50")]),
        award(desk["buyer_api"], rfq["id"], [(by_b["id"], "50")]),
    )
    rfq_after, quotes_after, made_after = await state(desk, rfq["id"])

    [won] = [r for r in replies if r.status == 201]
    [lost] = [r for r in replies if r.status != 201]
    refused(lost, 409, "RFQ_NOT_OPEN")
    [line] = won.body["awards"]
    assert set(made_after) - set(made_before) == {line["contract"]["id"]}
    assert rfq_after["status"] == "partially_awarded"
    assert sorted(q["status"] for q in quotes_after) == ["awarded", "declined"]


async def test_a_suspended_suppliers_quote_cannot_be_awarded_until_it_is_reactivated(
    desk: Desk,  # noqa: F811 (the fixture)
    clock: ManualClock,
    operator: Api,
) -> None:
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    supplier, api = await new_participant(operator, ["supplier"], home_region=desk["regions"][1])
    mine = await quote(api, rfq["id"], quote_body(desk, clock))
    assert (await operator.post(f"/v1/participants/{supplier['id']}/suspend")).status == 200
    before = await state(desk, rfq["id"])
    while_suspended = await award(desk["buyer_api"], rfq["id"], [(mine["id"], "50")])
    after = await state(desk, rfq["id"])
    assert (await operator.post(f"/v1/participants/{supplier['id']}/reactivate")).status == 200
    once_active = await award(desk["buyer_api"], rfq["id"], [(mine["id"], "50")])

    refused(while_suspended, 409, "SUPPLIER_SUSPENDED")
    assert after == before
    assert once_active.status == 201, once_active.body
    assert once_active.body["awards"][0]["contract"]["seller_id"] == supplier["id"]
