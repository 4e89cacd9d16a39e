"""Four-eyes adjustments: one operator proposes, a different one approves (one transfer, cause
`adjustment`) or declines; the proposer decides nothing; both steps are in the audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from settlement.ledger import AccountKind
from tests.e2e.test_ws_market import connect
from tests.factories import Api, new_participant
from tests.outbound_support import (
    arrange_available_funds,
    assert_ledger_holds,
    available_minor,
    center_balance,
)

EUR = "EUR"


@pytest.fixture(autouse=True)
async def _ledger_holds(db: asyncpg.Connection) -> AsyncIterator[None]:
    yield
    await assert_ledger_holds(db)


@pytest.fixture(scope="module")
async def second_operator(operator: Api) -> Api:
    _, api = await new_participant(operator, ["operator"])
    return api


async def _clearing_id(db: asyncpg.Connection, database_url: str) -> int:
    """The EUR clearing account (opened by an arranged deposit if there is none yet)."""
    participant = await db.fetchval("SELECT min(id) FROM participants")
    await arrange_available_funds(database_url, participant, EUR, 1)
    return int(
        await db.fetchval(
            "SELECT account_id FROM payment_accounts WHERE kind = 'clearing' AND currency = $1",
            EUR,
        )
    )


def _proposal(debit: dict[str, int], credit: dict[str, int], amount: str = "12.00") -> Any:
    return {"debit": debit, "credit": credit, "currency": EUR, "amount": amount,
            "reason": "compensation for a late delivery"}  # fmt: skip


async def test_the_proposer_cannot_approve_and_a_second_operator_can(
    operator, second_operator, database_url, db
):
    buyer, buyer_api = await new_participant(operator, ["buyer"])
    clearing = await _clearing_id(db, database_url)
    clearing_before = await center_balance(db, AccountKind.CLEARING, EUR)
    sock = await connect(buyer_api)
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")

    proposed = await operator.post(
        "/v1/adjustments", _proposal({"account_id": clearing}, {"participant_id": buyer["id"]})
    )
    path = f"/v1/adjustments/{proposed.body['id']}"
    own_approval = await operator.post(path + "/approve", {})
    own_decline = await operator.post(path + "/decline", {})
    untouched = await available_minor(db, buyer["id"], EUR)
    approved = await second_operator.post(path + "/approve", {"reason": "checked the claim"})
    notice = await sock.next("money")
    await sock.ws.close()
    again = await second_operator.post(path + "/decline", {})

    assert (proposed.status, proposed.body["status"]) == (201, "proposed")
    assert (own_approval.status, own_approval.body["code"]) == (403, "FOUR_EYES_REQUIRED")
    assert (own_decline.status, own_decline.body["code"]) == (403, "FOUR_EYES_REQUIRED")
    assert untouched == 0
    assert (approved.status, approved.body["status"]) == (200, "applied")
    assert (again.status, again.body["code"]) == (409, "ADJUSTMENT_DECIDED")
    assert await available_minor(db, buyer["id"], EUR) == 1_200
    assert await center_balance(db, AccountKind.CLEARING, EUR) == clearing_before - 1_200
    transfer = await db.fetchrow(
        "SELECT cause_kind, cause_reference, amount FROM ledger_transfers WHERE id = $1",
        approved.body["transfer_id"],
    )
    expected = {"cause_kind": "adjustment", "cause_reference": str(proposed.body["id"])}
    assert dict(transfer) == expected | {"amount": 1_200}
    assert (notice["event"], notice["amount"], notice["available"]) == (
        "adjustment",
        "12.00",
        "12.00",
    )


async def test_a_declined_adjustment_moves_nothing_and_cannot_be_approved(
    operator, second_operator, db
):
    buyer, _ = await new_participant(operator, ["buyer"])
    supplier, _ = await new_participant(operator, ["supplier"])
    proposed = await operator.post(
        "/v1/adjustments",
        _proposal({"participant_id": supplier["id"]}, {"participant_id": buyer["id"]}),
    )
    path = f"/v1/adjustments/{proposed.body['id']}"

    declined = await second_operator.post(path + "/decline", {"reason": "no basis"})
    approve = await second_operator.post(path + "/approve", {})

    assert (declined.status, declined.body["status"]) == (200, "declined")
    assert declined.body["transfer_id"] is None
    assert (approve.status, approve.body["code"]) == (409, "ADJUSTMENT_DECIDED")
    assert await available_minor(db, buyer["id"], EUR) == 0


async def test_approving_what_a_limited_account_does_not_hold_is_409_and_stays_proposed(
    operator, second_operator, db
):
    buyer, _ = await new_participant(operator, ["buyer"])
    supplier, _ = await new_participant(operator, ["supplier"])
    proposed = await operator.post(
        "/v1/adjustments",
        _proposal({"participant_id": supplier["id"]}, {"participant_id": buyer["id"]}),
    )
    path = f"/v1/adjustments/{proposed.body['id']}"

    refused = await second_operator.post(path + "/approve", {})
    after = (await operator.get(path)).body

    assert (refused.status, refused.body["code"]) == (409, "INSUFFICIENT_FUNDS")
    assert (after["status"], after["decided_by"]) == ("proposed", None)


async def test_both_steps_are_in_the_audit_trail(operator, second_operator, db, database_url):
    buyer, _ = await new_participant(operator, ["buyer"])
    clearing = await _clearing_id(db, database_url)
    proposer = (await operator.get("/v1/me")).body["participant"]["id"]
    approver = (await second_operator.get("/v1/me")).body["participant"]["id"]
    proposed = await operator.post(
        "/v1/adjustments", _proposal({"account_id": clearing}, {"participant_id": buyer["id"]})
    )
    await second_operator.post(f"/v1/adjustments/{proposed.body['id']}/approve", {"reason": "ok"})

    trail = await db.fetch(
        "SELECT action, actor_id, detail FROM audit_log WHERE target = $1 ORDER BY id",
        f"adjustment:{proposed.body['id']}",
    )

    assert [(r["action"], r["actor_id"]) for r in trail] == [
        ("adjustment.propose", proposer), ("adjustment.approve", approver),
    ]  # fmt: skip
    assert '"compensation for a late delivery"' in trail[0]["detail"]


async def test_proposals_naming_no_account_or_the_wrong_one_are_422(operator, db, database_url):
    buyer, _ = await new_participant(operator, ["buyer"])
    clearing = await _clearing_id(db, database_url)
    usd = {"debit": {"account_id": clearing}, "credit": {"participant_id": buyer["id"]},
           "currency": "USD", "amount": "1.00", "reason": "wrong currency"}  # fmt: skip

    unknown = await operator.post(
        "/v1/adjustments", _proposal({"account_id": 987654321}, {"participant_id": buyer["id"]})
    )
    nobody = await operator.post(
        "/v1/adjustments", _proposal({"account_id": clearing}, {"participant_id": 987654321})
    )
    same = await operator.post(
        "/v1/adjustments", _proposal({"account_id": clearing}, {"account_id": clearing})
    )
    both = await operator.post(
        "/v1/adjustments",
        _proposal({"account_id": clearing, "participant_id": buyer["id"]}, {"account_id": 1}),
    )
    mismatch = await operator.post("/v1/adjustments", usd)

    assert (unknown.status, unknown.body["code"]) == (422, "UNKNOWN_ACCOUNT")
    assert (nobody.status, nobody.body["code"]) == (422, "UNKNOWN_PARTICIPANT")
    assert (same.status, same.body["code"]) == (422, "SAME_ACCOUNT")
    assert both.status == 422
    assert (mismatch.status, mismatch.body["code"]) == (422, "CURRENCY_MISMATCH")


async def test_only_operators_reach_adjustments(operator):
    _, buyer = await new_participant(operator, ["buyer", "supplier"])
    body = _proposal({"participant_id": 1}, {"participant_id": 2})

    replies = [
        await buyer.post("/v1/adjustments", body),
        await buyer.get("/v1/adjustments"),
        await buyer.post("/v1/adjustments/1/approve", {}),
        await buyer.post("/v1/adjustments/1/decline", {}),
    ]

    assert [(r.status, r.body["code"]) for r in replies] == [(403, "ROLE_REQUIRED")] * 4


async def test_the_list_is_newest_first_and_filters_by_status(operator, second_operator):
    buyer, _ = await new_participant(operator, ["buyer"])
    supplier, _ = await new_participant(operator, ["supplier"])
    body = _proposal({"participant_id": supplier["id"]}, {"participant_id": buyer["id"]})
    ids = [(await operator.post("/v1/adjustments", body)).body["id"] for _ in range(3)]
    await second_operator.post(f"/v1/adjustments/{ids[0]}/decline", {})

    page = (await operator.get("/v1/adjustments", limit="2")).body
    declined = (await operator.get("/v1/adjustments", status="declined")).body

    assert [a["id"] for a in page["data"]] == ids[:0:-1]
    assert page["has_next"] is True
    assert ids[0] in [a["id"] for a in declined["data"]]
    assert {a["status"] for a in declined["data"]} == {"declined"}
