"""Signed bank notifications: deposits, suspense, signatures, exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import msgspec

from exchange.payments.notices import Notices
from exchange.payments.notifications import apply_notification
from exchange.payments.references import creditor_reference, deposit_reference
from settlement.bank.messages import Notification
from settlement.bank.signing import sign
from tests.conftest import settings_for, start_app
from tests.e2e.test_ws_market import connect
from tests.factories import Api, new_participant
from tests.payments_support import (  # noqa: F401
    BANK_SECRET,
    balance,
    center_balance,
    credit,
    deposit,
    ledger_holds,
    manual_clock,
    notify,
    paying_center,
)


async def _buyer(operator: Api) -> tuple[int, Api]:
    participant, api = await new_participant(operator, ["buyer"])
    return int(participant["id"]), api


async def _events(db: asyncpg.Connection, event_id: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM bank_events WHERE event_id=$1", event_id))


async def test_a_deposit_adds_to_the_participants_available_funds(operator, clock, db):
    pid, buyer = await _buyer(operator)
    before = await center_balance(operator)

    reply = await deposit(buyer, clock, pid, "1500.25")
    mine = await balance(buyer)
    after = await center_balance(operator)

    assert reply.body["result"] == "deposited"
    assert (reply.body["participant_id"], reply.body["amount"]) == (pid, "1500.25")
    assert mine == {"currency": "EUR", "available": "1500.25", "in_escrow": "0.00",
                    "reserved": "0.00"}  # fmt: skip
    held_before = int(before["clearing"].replace(".", ""))
    assert int(after["clearing"].replace(".", "")) == held_before - 150025
    assert await _events(db, reply.body["event_id"]) == 1


async def test_the_accounts_view_shows_the_deposit_reference(operator):
    pid, buyer = await _buyer(operator)

    reply = await buyer.get("/v1/accounts")

    assert reply.status == 200
    assert reply.body == {
        "participant_id": pid, "deposit_reference": deposit_reference(pid), "balances": [],
    }  # fmt: skip


async def test_a_replayed_notification_returns_the_first_outcome_and_moves_nothing(
    operator, clock, http, base_url
):
    pid, buyer = await _buyer(operator)
    body = credit("10.00", deposit_reference(pid), clock)
    first = await notify(http, base_url, BANK_SECRET, clock, body)
    clock.advance(timedelta(seconds=30))

    again = await notify(http, base_url, BANK_SECRET, clock, body)

    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body
    assert (await balance(buyer))["available"] == "10.00"


async def test_twenty_concurrent_duplicates_apply_once(operator, clock, http, base_url, db):
    pid, buyer = await _buyer(operator)
    body = credit("7.50", deposit_reference(pid), clock)

    replies = await asyncio.gather(
        *(notify(http, base_url, BANK_SECRET, clock, body) for _ in range(20))
    )

    assert {r.status for r in replies} == {200}
    assert all(r.body == replies[0].body for r in replies)
    assert replies[0].body["result"] == "deposited"
    assert (await balance(buyer))["available"] == "7.50"
    transfers = await db.fetchval(
        "SELECT count(*) FROM ledger_transfers WHERE cause_kind='bank' AND cause_reference=$1",
        body["bank_reference"],
    )
    assert transfers == 1


async def test_forged_altered_and_stale_signatures_are_refused_and_change_nothing(
    operator, clock, http, base_url, db
):
    pid, buyer = await _buyer(operator)
    body = credit("99.00", deposit_reference(pid), clock)
    raw = msgspec.json.encode(body)
    now = int(clock.now().timestamp())
    altered = raw.replace(b'"99.00"', b'"990.00"')

    attempts = {
        "forged": await notify(http, base_url, "not-the-banks-secret-000", clock, raw),
        "altered": await notify(
            http,
            base_url,
            BANK_SECRET,
            clock,
            altered,
            signature=sign(BANK_SECRET.encode(), raw, now),
        ),
        "stale": await notify(http, base_url, BANK_SECRET, clock, raw, signed_at=now - 301),
        "future": await notify(http, base_url, BANK_SECRET, clock, raw, signed_at=now + 301),
        "missing": await notify(http, base_url, BANK_SECRET, clock, raw, signature=""),
        "garbage": await notify(http, base_url, BANK_SECRET, clock, raw, signature="t=x,v1=zz"),
    }

    assert {name: (r.status, r.body["code"]) for name, r in attempts.items()} == {
        name: (401, "INVALID_SIGNATURE") for name in attempts
    }
    assert await _events(db, body["event_id"]) == 0
    assert (await balance(buyer))["available"] == "0.00"
    # the genuine one still applies afterwards: the refusals left no trace of the event
    ok = await notify(http, base_url, BANK_SECRET, clock, raw)
    assert (ok.status, ok.body["result"]) == (200, "deposited")


async def test_a_signature_within_tolerance_is_accepted(operator, clock, http, base_url):
    pid, _ = await _buyer(operator)
    body = credit("1.00", deposit_reference(pid), clock)

    reply = await notify(
        http, base_url, BANK_SECRET, clock, body, signed_at=int(clock.now().timestamp()) - 299
    )

    assert reply.status == 200, reply.body


async def test_a_mistyped_reference_goes_to_suspense_for_operators(operator, clock, db):
    pid, buyer = await _buyer(operator)
    good = deposit_reference(pid)
    mistyped = good[:-1] + ("1" if good[-1] != "1" else "2")  # check digits now fail
    before = await center_balance(operator)
    desk = await connect(operator)
    await desk.subscribe({"name": "user"})
    await desk.next("user_snapshot")

    reply = await notify(
        buyer.http, buyer.base_url, BANK_SECRET, clock, credit("250.00", mistyped, clock)
    )
    after = await center_balance(operator)
    told = await desk.next("money")
    await desk.ws.close()

    assert reply.status == 200, reply.body
    assert reply.body["result"] == "suspense"
    assert "participant_id" not in reply.body
    assert (await balance(buyer))["available"] == "0.00"
    assert _minor(after["suspense"]) - _minor(before["suspense"]) == 25000
    assert (told["event"], told["amount"], told["reference"]) == ("suspense", "250.00", mistyped)


async def test_unknown_participants_and_contracts_go_to_suspense(operator, clock, http, base_url):
    before = await center_balance(operator)
    nobody = await notify(
        http, base_url, BANK_SECRET, clock, credit("1.00", creditor_reference("D99999999"), clock)
    )
    no_contract = await notify(
        http, base_url, BANK_SECRET, clock, credit("2.00", creditor_reference("C77777"), clock)
    )
    foreign = await notify(
        http, base_url, BANK_SECRET, clock, credit("3.00", creditor_reference("INV2024"), clock)
    )
    after = await center_balance(operator)

    assert [r.body["result"] for r in (nobody, no_contract, foreign)] == ["suspense"] * 3
    assert _minor(after["suspense"]) - _minor(before["suspense"]) == 600


async def test_a_notification_for_another_account_is_a_422_that_changes_nothing(
    operator, clock, http, base_url, db
):
    pid, buyer = await _buyer(operator)
    wrong = credit("5.00", deposit_reference(pid), clock, account="CENTER-USD")
    odd = credit("5.001", deposit_reference(pid), clock)
    unknown = credit("5.00", deposit_reference(pid), clock, currency="XXX", account="CENTER-XXX")
    long_id = credit("5.00", deposit_reference(pid), clock, event_id="e" * 201)

    replies = [
        await notify(http, base_url, BANK_SECRET, clock, b) for b in (wrong, odd, unknown, long_id)
    ]
    bad_json = await notify(http, base_url, BANK_SECRET, clock, b"{not json")
    missing = await notify(http, base_url, BANK_SECRET, clock, {"event_id": "x"})

    assert [(r.status, r.body["code"]) for r in replies] == [
        (422, "UNKNOWN_ACCOUNT"), (422, "INVALID_AMOUNT"), (422, "INVALID_AMOUNT"),
        (422, "INVALID_TEXT"),
    ]  # fmt: skip
    assert (bad_json.status, missing.status) == (400, 422)
    for b in (wrong, odd, unknown):
        assert await _events(db, b["event_id"]) == 0
    assert (await balance(buyer))["available"] == "0.00"


async def test_a_center_without_a_bank_secret_answers_503(database_url, clock, http):
    runner, url = await start_app(settings_for(database_url), clock)
    try:
        reply = await notify(http, url, BANK_SECRET, clock, credit("1.00", "RF18X", clock))
    finally:
        await runner.cleanup()

    assert (reply.status, reply.body["code"]) == (503, "BANK_NOT_CONFIGURED")


async def test_a_deposit_reaches_the_participant_on_its_user_channel(operator, clock):
    pid, buyer = await _buyer(operator)
    _, stranger = await _buyer(operator)
    mine, theirs = await connect(buyer), await connect(stranger)
    await mine.subscribe({"name": "user"})
    await theirs.subscribe({"name": "user"})
    await mine.next("user_snapshot")
    await theirs.next("user_snapshot")

    await deposit(buyer, clock, pid, "42.00")
    message = await mine.next("money")

    assert message["event"] == "deposit"
    assert (message["amount"], message["available"], message["currency"]) == (
        "42.00", "42.00", "EUR"
    )  # fmt: skip
    assert message["reference"] == deposit_reference(pid)
    await deposit(stranger, clock, int((await stranger.get("/v1/me")).body["participant"]["id"]),
                  "1.00")  # fmt: skip
    other = await theirs.next("money")
    assert other["amount"] == "1.00"  # the stranger sees its own, and never the buyer's
    await mine.ws.close()
    await theirs.ws.close()


def _minor(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    return sign * int(text.lstrip("-").replace(".", ""))


async def test_a_notification_recovered_from_a_statement_applies_once_like_any_other(
    operator, clock, http, base_url, db
):
    pid, buyer = await _buyer(operator)
    body = credit("33.00", deposit_reference(pid), clock)
    raw = msgspec.json.encode(body)
    notices = Notices()

    async with db.transaction():
        recovered = await apply_notification(
            db, msgspec.json.decode(raw, type=Notification), raw, "statement", clock.now(), notices
        )
    late = await notify(http, base_url, BANK_SECRET, clock, raw)  # the lost one, after all

    assert (recovered.result, recovered.source, recovered.participant_id) == (
        "deposited", "statement", pid
    )  # fmt: skip
    assert [fields["event"] for _, fields in notices.pending] == ["deposit"]
    assert late.status == 200
    assert late.body == msgspec.to_builtins(recovered)
    assert (await balance(buyer))["available"] == "33.00"


async def test_a_payout_notification_for_no_known_withdrawal_is_recorded_and_moves_nothing(
    operator, clock, http, base_url, db
):
    before = await center_balance(operator)
    body = credit("12.00", creditor_reference("W1"), clock, type="payout_settled")

    first = await notify(http, base_url, BANK_SECRET, clock, body)
    again = await notify(http, base_url, BANK_SECRET, clock, body)

    assert (first.status, first.body["result"], first.body["type"]) == (
        200, "unknown_withdrawal", "payout_settled"
    )  # fmt: skip
    assert again.body == first.body
    assert await _events(db, body["event_id"]) == 1
    assert await center_balance(operator) == before
