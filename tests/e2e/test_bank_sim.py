"""`exchange bank-sim` as a real process: accounts, idempotent transfers, rejections, returns,
signed notifications to a loopback receiver, statements, the fault mode, and `HttpBank`."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from aiohttp import web
from click.testing import CliRunner

from exchange.cli import main
from settlement.bank.http import HttpBank
from settlement.bank.messages import NotificationType, TransferStatus
from settlement.bank.port import BankRefusedError, BankUnavailableError
from settlement.money import parse_scaled
from tests.banksim import API_KEY, BankSim, Receiver

CENTER = "CENTER-EUR"


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture(scope="module")
async def bank(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> AsyncIterator[BankSim]:
    async with BankSim(tmp_path_factory.mktemp("bank"), notify_url=receiver.url) as sim:
        yield sim


def today() -> datetime:
    return datetime.now(UTC)


async def test_health_is_public_and_everything_else_needs_the_key(bank: BankSim) -> None:
    async with HttpBank(bank.url, "wrong-key") as wrong:
        with pytest.raises(BankRefusedError) as refused:
            await wrong.statement(CENTER, today().date())
    assert (refused.value.status, refused.value.code) == (401, "UNAUTHENTICATED")
    status, _ = await bank.request("GET", "/healthz")
    assert status == 200


async def test_transfer_is_executed_once_per_end_to_end_id(bank: BankSim) -> None:
    buyer = await bank.open_account("Idem Buyer", "EUR", "500.00")
    first = await bank.pay(buyer, CENTER, "120.00", "EUR", "RF18C1", end_to_end_id="IDEM-1")
    again = await bank.pay(buyer, CENTER, "120.00", "EUR", "RF18C1", end_to_end_id="IDEM-1")
    assert first.status is TransferStatus.EXECUTED
    assert again == first
    assert await bank.balance(buyer) == "380.00"
    with pytest.raises(BankRefusedError) as refused:
        await bank.pay(buyer, CENTER, "120.01", "EUR", "RF18C1", end_to_end_id="IDEM-1")
    assert (refused.value.status, refused.value.code) == (409, "END_TO_END_ID_REUSED")
    assert await bank.balance(buyer) == "380.00"
    entries = (await bank.statement(CENTER, today().date())).entries
    assert [e.amount for e in entries if e.end_to_end_id == "IDEM-1"] == ["120.00"]


async def test_rejections_move_nothing(bank: BankSim) -> None:
    payer = await bank.open_account("Rejected Payer", "EUR", "10.00")
    closed = await bank.open_account("Closed Ltd", "EUR")
    await bank.close_account(closed)
    dollars = await bank.open_account("Dollar Inc", "USD")
    cases = [
        ("XB00SIMB9999999999", "1.00", "EUR", "CREDITOR_ACCOUNT_UNKNOWN"),
        (closed, "1.00", "EUR", "CREDITOR_ACCOUNT_CLOSED"),
        (dollars, "1.00", "EUR", "CURRENCY_MISMATCH"),
        (CENTER, "10.01", "EUR", "INSUFFICIENT_FUNDS"),
    ]
    for creditor, amount, currency, reason in cases:
        result = await bank.pay(payer, creditor, amount, currency, "RF18C1")
        assert (result.status, result.reason) == (TransferStatus.REJECTED, reason)
        assert (await bank.transfer(result.end_to_end_id)).status is TransferStatus.REJECTED
    assert await bank.balance(payer) == "10.00"
    assert await bank.balance(closed) == "0.00"


async def test_bad_requests_get_problem_documents(bank: BankSim) -> None:
    buyer = await bank.open_account("Bad Request Buyer", "EUR", "1.00")
    cases = [
        ("POST", "/v1/transfers", b"{", 400, "MALFORMED_JSON"),
        ("POST", "/v1/transfers", {"end_to_end_id": "x"}, 422, "VALIDATION_FAILED"),
        ("POST", "/v1/accounts", {"holder": "X", "currency": "XYZ"}, 422, "UNSUPPORTED_CURRENCY"),
        ("GET", "/v1/accounts/NOPE", None, 404, "UNKNOWN_ACCOUNT"),
        ("GET", f"/v1/accounts/{buyer}/statement?date=yesterday", None, 422, "INVALID_DATE"),
        ("GET", "/v1/transfers/NOPE", None, 404, "UNKNOWN_TRANSFER"),
        ("POST", "/v1/transfers/NOPE/return", None, 404, "UNKNOWN_TRANSFER"),
        ("GET", "/v1/nowhere", None, 404, "NOT_FOUND"),
    ]
    for method, path, body, status, code in cases:
        if isinstance(body, bytes):
            answer_status, raw = await bank.raw(method, path, None, data=body)
        else:
            answer_status, raw = await bank.raw(method, path, body)
        problem = msgspec.json.decode(raw)
        assert (answer_status, problem["code"]) == (status, code), (path, problem)
        assert problem["detail"]
    assert await bank.balance(buyer) == "1.00"


async def test_every_notification_type_arrives_signed(bank: BankSim, receiver: Receiver) -> None:
    buyer = await bank.open_account("Notified Buyer", "EUR", "1000.00")
    supplier = await bank.open_account("Notified Supplier", "EUR")
    await bank.pay(buyer, CENTER, "300.00", "EUR", "RF18C7", end_to_end_id="N-CREDIT")
    await bank.pay(CENTER, supplier, "100.00", "EUR", "RF18W1", end_to_end_id="N-SETTLED")
    rejected = await bank.pay(CENTER, "XB00SIMB9999999999", "1.00", "EUR", "RF18W2", "N-REJ")
    await bank.close_account(supplier)
    returned = await bank.return_transfer("N-SETTLED")
    assert rejected.status is TransferStatus.REJECTED
    assert (returned.status, returned.reason) == (TransferStatus.RETURNED, "ACCOUNT_CLOSED")

    def arrived() -> bool:
        return (
            all(receiver.of(e) for e in ("N-CREDIT", "N-REJ"))
            and len(receiver.of("N-SETTLED")) == 2
        )

    await receiver.wait_until(arrived)
    [credit] = receiver.of("N-CREDIT")
    assert (credit.type, credit.amount, credit.reference) == (
        NotificationType.CREDIT,
        "300.00",
        "RF18C7",
    )
    assert (credit.account, credit.counterparty_account) == (CENTER, buyer)
    assert credit.counterparty_name == "Notified Buyer"
    settled, back = receiver.of("N-SETTLED")  # in the order they happened
    assert (settled.type, settled.amount) == (NotificationType.PAYOUT_SETTLED, "100.00")
    assert (back.type, back.reason) == (NotificationType.PAYOUT_RETURNED, "ACCOUNT_CLOSED")
    [refused] = receiver.of("N-REJ")
    assert (refused.type, refused.reason) == (
        NotificationType.PAYOUT_REJECTED,
        "CREDITOR_ACCOUNT_UNKNOWN",
    )
    assert receiver.forged == 0
    assert len({n.event_id for n in receiver.received}) == len(receiver.received)
    assert await bank.balance(supplier) == "0.00"


async def test_statement_adds_up_and_names_the_notifications(
    bank: BankSim, receiver: Receiver
) -> None:
    buyer = await bank.open_account("Statement Buyer", "EUR", "100.00")
    for n in range(3):
        await bank.pay(buyer, CENTER, "10.00", "EUR", f"RF18S{n}", end_to_end_id=f"ST-{n}")
    await receiver.wait_until(lambda: all(receiver.of(f"ST-{n}") for n in range(3)))
    statement = await bank.statement(CENTER, today().date())
    opening = parse_scaled(statement.opening_balance, 2)
    total = sum(int(e.amount.replace(".", "")) for e in statement.entries)
    assert opening + total == parse_scaled(statement.closing_balance, 2)
    assert (await bank.account(CENTER)).balance == statement.closing_balance
    ours = [e for e in statement.entries if e.end_to_end_id.startswith("ST-")]
    assert [e.reference for e in ours] == ["RF18S0", "RF18S1", "RF18S2"]
    received = {n.event_id: n for n in receiver.received}
    for entry in ours:
        told = received[entry.event_id]
        assert (told.bank_reference, told.end_to_end_id) == (
            entry.bank_reference,
            entry.end_to_end_id,
        )
    buyer_day = await bank.statement(buyer, today().date())
    assert (buyer_day.opening_balance, buyer_day.closing_balance) == ("100.00", "70.00")


async def test_notifications_are_retried_until_the_center_answers(tmp_path: Path) -> None:
    receiver = Receiver(fail_first=3)
    await receiver.start()
    try:
        async with BankSim(tmp_path, notify_url=receiver.url) as bank:
            buyer = await bank.open_account("Patient Buyer", "EUR", "10.00")
            for n in range(3):
                await bank.pay(buyer, CENTER, "1.00", "EUR", "RF18C1", end_to_end_id=f"R-{n}")
            counts = await bank.wait_delivered()
    finally:
        await receiver.stop()
    assert (counts["delivered"], counts["abandoned"]) == (3, 0)
    assert receiver.attempts == 6
    assert [n.end_to_end_id for n in receiver.received] == ["R-0", "R-1", "R-2"]


async def test_wrong_secret_is_caught_by_the_receiver(tmp_path: Path) -> None:
    receiver = Receiver(secret="another-secret-0123456789")
    await receiver.start()
    try:
        async with BankSim(tmp_path, notify_url=receiver.url) as bank:
            buyer = await bank.open_account("Forged Buyer", "EUR", "10.00")
            await bank.pay(buyer, CENTER, "1.00", "EUR", "RF18C1")
            await receiver.wait_until(lambda: receiver.forged >= 2)
    finally:
        await receiver.stop()
    assert receiver.received == []


async def test_the_clock_moves_bookings_and_signatures_in_step_with_a_center(
    tmp_path: Path,
) -> None:
    day = 86_400
    ahead = Receiver(now=lambda: time.time() + day)  # a center whose clock was moved a day on
    await ahead.start()
    try:
        async with BankSim(tmp_path, notify_url=ahead.url) as bank:
            bad, problem = await bank.request("POST", "/v1/clock", {"offset_seconds": "1 day"})
            moved = await bank.set_clock_offset(day)
            read = await bank.clock()
            buyer = await bank.open_account("Timely Buyer", "EUR", "10.00")
            paid = await bank.pay(buyer, CENTER, "1.00", "EUR", "RF18C1", end_to_end_id="CLK-1")
            counts = await bank.wait_delivered()
            statement = await bank.statement(CENTER, (today() + timedelta(days=1)).date())
            back = await bank.follow_clock(today())
    finally:
        await ahead.stop()
    assert (bad, problem["code"]) == (422, "VALIDATION_FAILED")
    assert moved.offset_seconds == read.offset_seconds == day
    assert abs((read.now - today()).total_seconds() - day) < 60
    assert paid.booked_at is not None
    assert abs((paid.booked_at - today()).total_seconds() - day) < 60
    assert (counts["delivered"], ahead.forged) == (1, 0)  # signed at the moved time
    assert [n.end_to_end_id for n in ahead.received] == ["CLK-1"]
    assert [e.end_to_end_id for e in statement.entries] == ["CLK-1"]
    assert back.offset_seconds in (-1, 0)


async def test_http_bank_refusals_and_unavailability(bank: BankSim) -> None:
    buyer = await bank.open_account("Adapter Buyer", "EUR", "50.00")
    async with HttpBank(bank.url, API_KEY) as adapter:
        order = bank.order(buyer, CENTER, "20.00", "EUR", "RF18C1", "HB-1")
        first = await adapter.transfer(order)
        assert first.status is TransferStatus.EXECUTED
        assert await adapter.transfer(order) == first
        with pytest.raises(BankRefusedError) as refused:
            await adapter.transfer(bank.order(buyer, CENTER, "21.00", "EUR", "RF18C1", "HB-1"))
        assert (refused.value.status, refused.value.code) == (409, "END_TO_END_ID_REUSED")
        with pytest.raises(BankRefusedError) as unknown:
            await adapter.statement("NOPE", today().date())
        assert (unknown.value.status, unknown.value.code) == (404, "UNKNOWN_ACCOUNT")
        statement = await adapter.statement(CENTER, today().date())
        assert "HB-1" in {e.end_to_end_id for e in statement.entries}
    assert await bank.balance(buyer) == "30.00"
    nowhere = HttpBank("http://127.0.0.1:9", API_KEY, timeout=2.0)
    try:
        with pytest.raises(BankUnavailableError):
            await nowhere.transfer(order)
    finally:
        await nowhere.close()


async def test_bank_sim_stops_on_sigint_and_sigterm(tmp_path: Path) -> None:
    interrupted = BankSim(tmp_path)
    await interrupted.start()
    assert interrupted.process is not None
    interrupted.process.send_signal(signal.SIGINT)
    assert await asyncio.to_thread(interrupted.process.wait, 15) == 0
    await interrupted.stop()
    assert f"listening on {interrupted.url}" in interrupted.log.read_text()
    terminated = BankSim(tmp_path)
    await terminated.start()
    assert await terminated.stop() == 0  # SIGTERM


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--notify-url", "http://127.0.0.1:1/n"], "needs --secret"),
        (["--notify-url", "ftp://x", "--secret", "s" * 20], "http:// or https://"),
        (["--faults", "1", "--fault-rates", "lose=2"], "--fault-rates"),
    ],
)
def test_bank_sim_refuses_unclear_options(args: list[str], message: str) -> None:
    runner = CliRunner(env={"BANK_SIM_SECRET": None, "BANK_SIM_API_KEY": "k"})
    result = runner.invoke(main, ["bank-sim", *args])
    assert result.exit_code == 1
    assert message in result.output


async def test_http_bank_reads_5xx_and_garbage_as_unknown_outcomes() -> None:
    answers = {
        "/v1/transfers": web.Response(status=503, text="busy"),
        "/v1/accounts/A/statement": web.Response(status=200, text="not json"),
        "/v1/accounts/B/statement": web.Response(status=400, text="<html>bad</html>"),
    }

    async def answer(request: web.Request) -> web.Response:
        return answers[request.path]

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with HttpBank(url, API_KEY) as adapter:
            order = BankSim.order("A", "B", "1.00", "EUR", "RF18C1", "X-1")
            with pytest.raises(BankUnavailableError, match="503"):
                await adapter.transfer(order)
            with pytest.raises(BankUnavailableError, match="unreadable"):
                await adapter.statement("A", today().date())
            with pytest.raises(BankRefusedError) as refused:
                await adapter.statement("B", today().date())
    finally:
        await runner.cleanup()
    assert (refused.value.status, refused.value.code) == (400, "HTTP_400")
    assert "bad" in refused.value.detail
