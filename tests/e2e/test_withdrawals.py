"""Withdrawals through the API, against a fake designated bank with switchable outcomes:
settled, rejected, returned, an unknown outcome resolved by the retry or by the bank's
notification (exactly once either way), refusals, and the ledger's trial balance after each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from exchange.appkeys import PAYOUTS
from exchange.payments.notices import Notices
from exchange.payments.withdrawals import BankOutcome, Outcome, apply_payout
from settlement.bank.messages import Notification, NotificationType
from settlement.ledger import AccountKind
from tests.conftest import settings_for
from tests.e2e.test_ws_market import connect
from tests.factories import Api, new_participant, unique
from tests.outbound_support import (
    FakeBank,
    Mode,
    arrange_available_funds,
    assert_ledger_holds,
    available_minor,
    center_balance,
    eventually,
    post_with_key,
    start_app_with_bank,
)

EUR = "EUR"


@pytest.fixture(scope="module")
def bank() -> FakeBank:
    return FakeBank()


@pytest.fixture(scope="module")
async def center(database_url: str, bank: FakeBank) -> AsyncIterator[tuple[str, web.Application]]:
    runner, url = await start_app_with_bank(settings_for(database_url), bank)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


@pytest.fixture(autouse=True)
async def _ledger_holds(db: asyncpg.Connection, bank: FakeBank) -> AsyncIterator[None]:
    bank.mode = Mode.EXECUTE
    yield
    await assert_ledger_holds(db)


async def _holder(operator: Api, database_url: str, funds: int = 10_000) -> tuple[int, Api, str]:
    """A buyer with a registered bank account and `funds` EUR cents available."""
    participant, api = await new_participant(operator, ["buyer"])
    pid = participant["id"]
    account = unique("DE8937040044")
    reply = await api.call("PUT", f"/v1/participants/{pid}/bank-account", {"bank_account": account})
    assert reply.status == 200, reply.body
    if funds:
        await arrange_available_funds(database_url, pid, EUR, funds)
    return pid, api, account


async def _withdraw(api: Api, amount: str, key: str | None = None) -> Any:
    reply = await post_with_key(
        api, "/v1/withdrawals", {"currency": EUR, "amount": amount}, key or unique("wd-")
    )
    assert reply.status == 202, reply.body
    return reply.body


async def _status(api: Api, withdrawal_id: int, status: str) -> Any:
    async def check() -> Any:
        body = (await api.get(f"/v1/withdrawals/{withdrawal_id}")).body
        return body if body["status"] == status else None

    return await eventually(check, f"withdrawal {withdrawal_id} to be {status}")


def _notification(withdrawal: dict[str, Any], kind: NotificationType) -> Notification:
    return Notification(
        event_id=unique("ev-"), type=kind, occurred_at=datetime.now(UTC),
        account="CENTER-EUR", bank_reference=unique("BR"),
        end_to_end_id=withdrawal["end_to_end_id"], amount=withdrawal["amount"], currency=EUR,
        reference="RF", counterparty_account=withdrawal["bank_account"], counterparty_name="x",
    )  # fmt: skip


async def _notify(db: asyncpg.Connection, notification: Notification) -> dict[str, Any]:
    """What the bank-notification endpoint does with a payout notification (in its
    transaction)."""
    async with db.transaction():
        return await apply_payout(db, notification, Notices(), datetime.now(UTC))


async def test_a_settled_withdrawal_pays_out_to_the_registered_account(
    operator, database_url, db, bank
):
    pid, api, account = await _holder(operator, database_url)
    clearing_before = await center_balance(db, AccountKind.CLEARING, EUR)

    accepted = await _withdraw(api, "40.00")
    settled = await _status(api, accepted["id"], "settled")

    assert accepted["status"] == "pending"
    assert accepted["end_to_end_id"] == f"WD{accepted['id']}"
    [request] = [r for r in bank.requests if r.end_to_end_id == accepted["end_to_end_id"]]
    assert (request.debtor_account, request.creditor_account) == ("CENTER-EUR", account)
    assert (request.amount, request.currency) == ("40.00", EUR)
    assert settled["bank_reference"] == bank.results[request.end_to_end_id].bank_reference
    assert await available_minor(db, pid, EUR) == 6_000
    assert await center_balance(db, AccountKind.CLEARING, EUR) == clearing_before + 4_000
    assert await center_balance(db, AccountKind.WITHDRAWALS, EUR) == 0


async def test_the_amount_is_reserved_while_the_bank_has_not_answered(
    operator, database_url, db, bank
):
    bank.mode = Mode.DOWN
    pid, api, _ = await _holder(operator, database_url)

    accepted = await _withdraw(api, "70.00")
    again = await post_with_key(
        api, "/v1/withdrawals", {"currency": EUR, "amount": "30.01"}, unique("k")
    )

    assert (await api.get(f"/v1/withdrawals/{accepted['id']}")).body["status"] == "pending"
    assert await available_minor(db, pid, EUR) == 3_000
    assert (again.status, again.body["code"]) == (409, "INSUFFICIENT_FUNDS")
    bank.mode = Mode.EXECUTE
    await _status(api, accepted["id"], "settled")  # the retry, once the bank is back


async def test_a_rejected_withdrawal_gives_the_money_back(operator, database_url, db, bank):
    bank.mode = Mode.REJECT
    pid, api, _ = await _holder(operator, database_url)

    accepted = await _withdraw(api, "25.50")
    rejected = await _status(api, accepted["id"], "rejected")

    assert rejected["reason"] == "ACCOUNT_CLOSED"
    assert await available_minor(db, pid, EUR) == 10_000
    assert await center_balance(db, AccountKind.WITHDRAWALS, EUR) == 0


async def test_a_returned_payout_comes_back_to_available_funds_once(
    operator, database_url, db, bank
):
    pid, api, _ = await _holder(operator, database_url)
    accepted = await _withdraw(api, "10.00")
    settled = await _status(api, accepted["id"], "settled")
    clearing = await center_balance(db, AccountKind.CLEARING, EUR)
    returned = _notification(settled, NotificationType.PAYOUT_RETURNED)

    first = await _notify(db, returned)
    second = await _notify(db, returned)
    late = await _notify(db, _notification(settled, NotificationType.PAYOUT_SETTLED))

    assert first == {"result": "returned", "withdrawal_id": accepted["id"]}
    assert second == {"result": "already_returned", "withdrawal_id": accepted["id"]}
    assert late == second
    assert (await api.get(f"/v1/withdrawals/{accepted['id']}")).body["status"] == "returned"
    assert await available_minor(db, pid, EUR) == 10_000
    assert await center_balance(db, AccountKind.CLEARING, EUR) == clearing - 1_000


async def test_an_unknown_outcome_is_resolved_by_the_retry_exactly_once(
    operator, database_url, db, bank
):
    bank.mode = Mode.TIMEOUT_AFTER_EXECUTION  # executed, but the answer is lost
    pid, api, _ = await _holder(operator, database_url)

    accepted = await _withdraw(api, "12.34")
    e2e = accepted["end_to_end_id"]
    await eventually(lambda: _async(e2e in bank.results), "the bank to execute it")
    settled = await _status(api, accepted["id"], "settled")  # the retry, same end-to-end id
    notified = await _notify(db, _notification(settled, NotificationType.PAYOUT_SETTLED))

    assert bank.executions(e2e) == 1
    assert len([r for r in bank.requests if r.end_to_end_id == e2e]) >= 2
    assert notified == {"result": "already_settled", "withdrawal_id": accepted["id"]}
    assert await available_minor(db, pid, EUR) == 10_000 - 1_234
    assert await center_balance(db, AccountKind.WITHDRAWALS, EUR) == 0


async def test_an_unknown_outcome_is_resolved_by_the_notification_exactly_once(
    operator, database_url, db, bank, center
):
    bank.mode = Mode.DOWN
    pid, api, _ = await _holder(operator, database_url)
    accepted = await _withdraw(api, "5.00")
    payouts = center[1][PAYOUTS]
    settled = _notification(accepted, NotificationType.PAYOUT_SETTLED)

    first = await _notify(db, settled)
    bank.mode = Mode.EXECUTE
    await payouts.retry_pending()
    by_answer = await payouts.apply(accepted["id"], BankOutcome(Outcome.EXECUTED, "FB-late"))
    again = await _notify(db, settled)

    assert first == {"result": "settled", "withdrawal_id": accepted["id"]}
    assert by_answer == again == {"result": "already_settled", "withdrawal_id": accepted["id"]}
    assert accepted["end_to_end_id"] not in bank.results  # settled: the retry sent nothing
    assert (await api.get(f"/v1/withdrawals/{accepted['id']}")).body["status"] == "settled"
    assert await available_minor(db, pid, EUR) == 9_500


async def test_concurrent_resolutions_apply_once(operator, database_url, db, bank, center):
    bank.mode = Mode.DOWN
    pid, api, _ = await _holder(operator, database_url)
    accepted = await _withdraw(api, "7.00")
    settled = _notification(accepted, NotificationType.PAYOUT_SETTLED)
    connections = [await asyncpg.connect(database_url) for _ in range(6)]
    try:
        results = await asyncio.gather(
            *(_notify(conn, settled) for conn in connections),
            center[1][PAYOUTS].apply(accepted["id"], BankOutcome(Outcome.EXECUTED, "FB-x")),
        )
    finally:
        for conn in connections:
            await conn.close()

    outcomes = sorted(result["result"] for result in results)
    assert outcomes == ["already_settled"] * 6 + ["settled"]
    assert await available_minor(db, pid, EUR) == 9_300
    transfers = await db.fetchval(
        "SELECT count(*) FROM ledger_transfers WHERE cause_kind = 'withdrawal'"
        " AND cause_reference = $1",
        str(accepted["id"]),
    )
    assert transfers == 3  # the hold, its posting, withdrawals -> clearing


async def test_a_notification_that_disagrees_on_the_amount_changes_nothing(
    operator, database_url, db, bank
):
    bank.mode = Mode.DOWN
    pid, api, _ = await _holder(operator, database_url)
    accepted = await _withdraw(api, "3.00")

    result = await _notify(
        db, _notification(accepted | {"amount": "30.00"}, NotificationType.PAYOUT_SETTLED)
    )

    assert result == {"result": "amount_mismatch", "withdrawal_id": accepted["id"]}
    assert (await api.get(f"/v1/withdrawals/{accepted['id']}")).body["status"] == "pending"
    assert await available_minor(db, pid, EUR) == 9_700
    bank.mode = Mode.EXECUTE
    await _status(api, accepted["id"], "settled")


async def test_a_request_the_bank_refuses_is_rejected(operator, database_url, db, bank):
    bank.mode = Mode.REFUSE
    pid, api, _ = await _holder(operator, database_url)

    accepted = await _withdraw(api, "2.00")
    rejected = await _status(api, accepted["id"], "rejected")

    assert rejected["reason"] == "UNKNOWN_ACCOUNT"
    assert await available_minor(db, pid, EUR) == 10_000


async def test_a_notification_for_no_withdrawal_is_reported_unknown(db):
    ghost = {"end_to_end_id": "WD999999999", "amount": "1.00", "bank_account": "X-1"}

    result = await _notify(db, _notification(ghost, NotificationType.PAYOUT_SETTLED))

    assert result == {"result": "unknown_withdrawal"}


async def test_insufficient_funds_and_no_bank_account_are_refused_and_leave_nothing(
    operator, database_url, db, bank
):
    pid, api, _ = await _holder(operator, database_url, funds=1_000)
    unregistered, stranger = await new_participant(operator, ["supplier"])
    await arrange_available_funds(database_url, unregistered["id"], EUR, 1_000)
    requests_before = len(bank.requests)

    too_much = await post_with_key(
        api, "/v1/withdrawals", {"currency": EUR, "amount": "10.01"}, "a"
    )
    no_account = await post_with_key(
        stranger, "/v1/withdrawals", {"currency": EUR, "amount": "1.00"}, "a"
    )
    other_currency = await post_with_key(
        api, "/v1/withdrawals", {"currency": "USD", "amount": "1"}, "b"
    )
    zero = await post_with_key(api, "/v1/withdrawals", {"currency": EUR, "amount": "0.00"}, "c")
    too_fine = await post_with_key(
        api, "/v1/withdrawals", {"currency": EUR, "amount": "0.001"}, "d"
    )

    assert (too_much.status, too_much.body["code"]) == (409, "INSUFFICIENT_FUNDS")
    assert (no_account.status, no_account.body["code"]) == (409, "BANK_ACCOUNT_REQUIRED")
    assert (other_currency.status, other_currency.body["code"]) == (409, "INSUFFICIENT_FUNDS")
    assert (zero.status, zero.body["code"]) == (422, "INVALID_AMOUNT")
    assert (too_fine.status, too_fine.body["code"]) == (422, "INVALID_AMOUNT")
    count = await db.fetchval(
        "SELECT count(*) FROM withdrawals WHERE participant_id = ANY ($1::bigint[])",
        [pid, unregistered["id"]],
    )
    assert count == 0
    assert len(bank.requests) == requests_before
    assert await available_minor(db, pid, EUR) == 1_000


async def test_without_a_bank_withdrawals_are_503_and_leave_nothing(operator, database_url, db):
    pid, _, _ = await _holder(operator, database_url, funds=1_000)
    key = (await operator.post(f"/v1/participants/{pid}/keys", {"label": "nobank"})).body["key"]
    runner, url = await start_app_with_bank(settings_for(database_url), None)
    try:
        api = Api(operator.http, url, key)
        reply = await post_with_key(
            api, "/v1/withdrawals", {"currency": EUR, "amount": "1.00"}, "n"
        )
    finally:
        await runner.cleanup()

    assert (reply.status, reply.body["code"]) == (503, "BANK_UNAVAILABLE")
    assert await db.fetchval("SELECT count(*) FROM withdrawals WHERE participant_id = $1", pid) == 0
    assert await available_minor(db, pid, EUR) == 1_000


async def test_each_change_reaches_the_participant_on_its_user_channel(operator, database_url):
    _, api, _ = await _holder(operator, database_url)
    sock = await connect(api)
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")

    accepted = await _withdraw(api, "1.50")
    pending = await sock.next("money")
    settled = await sock.next("money")
    await sock.ws.close()

    assert (pending["event"], pending["withdrawal_id"]) == ("withdrawal_pending", accepted["id"])
    assert (pending["amount"], pending["available"]) == ("1.50", "98.50")
    assert (settled["event"], settled["available"]) == ("withdrawal_settled", "98.50")


async def test_lists_show_own_withdrawals_and_operators_see_all(operator, database_url):
    pid, api, _ = await _holder(operator, database_url)
    other_pid, other, _ = await _holder(operator, database_url)
    mine = [(await _withdraw(api, f"{n}.00"))["id"] for n in (1, 2, 3)]
    theirs = (await _withdraw(other, "1.00"))["id"]

    first = (await api.get("/v1/withdrawals", limit="2")).body
    rest = (await api.get("/v1/withdrawals", limit="2", cursor=first["next_cursor"])).body
    by_operator = (await operator.get("/v1/withdrawals", participant_id=str(other_pid))).body
    foreign = await api.get(f"/v1/withdrawals/{theirs}")

    assert [w["id"] for w in first["data"] + rest["data"]] == mine[::-1]
    assert (first["has_next"], rest["has_next"]) == (True, False)
    assert [w["id"] for w in by_operator["data"]] == [theirs]
    assert (foreign.status, foreign.body["code"]) == (404, "UNKNOWN_WITHDRAWAL")
    assert (await operator.get(f"/v1/withdrawals/{theirs}")).status == 200
    assert {w["participant_id"] for w in first["data"]} == {pid}


async def test_the_bank_account_is_set_by_its_participant_or_an_operator_and_audited(operator, db):
    participant, api = await new_participant(operator, ["supplier"])
    pid = participant["id"]
    _, stranger = await new_participant(operator, ["buyer"])
    path = f"/v1/participants/{pid}/bank-account"

    own = await api.call("PUT", path, {"bank_account": "DE89370400440532013000"})
    foreign = await stranger.call("PUT", path, {"bank_account": "XX-STOLEN-1"})
    by_operator = await operator.call("PUT", path, {"bank_account": "DE89370400440532013001"})
    bad = await api.call("PUT", path, {"bank_account": "no spaces allowed"})
    me = (await api.get("/v1/me")).body

    assert (own.status, own.body["bank_account"]) == (200, "DE89370400440532013000")
    assert (foreign.status, foreign.body["code"]) == (404, "UNKNOWN_PARTICIPANT")
    assert by_operator.body["bank_account"] == "DE89370400440532013001"
    assert bad.status == 422
    assert me["participant"]["bank_account"] == "DE89370400440532013001"
    audited = await db.fetch(
        "SELECT actor_id, detail->>'bank_account' AS account FROM audit_log"
        " WHERE action = 'participant.bank_account' AND target = $1 ORDER BY id",
        f"participant:{pid}",
    )
    assert [r["account"] for r in audited] == ["DE89370400440532013000", "DE89370400440532013001"]
    assert audited[0]["actor_id"] == pid


async def _async(value: Any) -> Any:
    return value
