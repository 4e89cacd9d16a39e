"""`exchange bank-sim --faults SEED` as a real process: lost, duplicated, delayed and reordered
notifications as the seed's plan says (the same for two runs), timeouts after execution that a
retry with the same end-to-end id resolves, and payouts that come back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from settlement.bank.http import HttpBank
from settlement.bank.messages import NotificationType, TransferStatus
from settlement.bank.port import BankUnavailableError
from settlement.bank.simulator.faults import FaultPlan, NotificationFaults, parse_rates
from tests.banksim import API_KEY, BankSim, Receiver

CENTER = "CENTER-EUR"
SEED = 1
NOTIFICATION_FAULTS = (
    "lose=0.15,duplicate=0.25,delay=0.15,reorder=0.25,timeout=0,returns=0,delay_seconds=0.5"
)
IDS = [f"F-{i}" for i in range(24)]


def copies(faults: NotificationFaults) -> int:
    return 0 if faults.lose else 2 if faults.duplicate else 1


async def run_credits(tmp_path: Path) -> tuple[Receiver, list[tuple[str, str, str | None]], set]:
    """24 credits to the center under the fault plan; returns the receiver once every
    notification the plan lets through has arrived, the faults the simulator reports, and the
    end-to-end ids on the day's statement."""
    plan = FaultPlan(SEED, parse_rates(NOTIFICATION_FAULTS))
    expected = {e2e: copies(plan.for_event(NotificationType.CREDIT, e2e)) for e2e in IDS}
    receiver = Receiver()
    await receiver.start()
    try:
        bank = BankSim(
            tmp_path, notify_url=receiver.url, faults=SEED, fault_rates=NOTIFICATION_FAULTS
        )
        async with bank:
            buyer = await bank.open_account("Chaos Buyer", "EUR", "1000.00")
            for e2e in IDS:
                await bank.pay(buyer, CENTER, "1.00", "EUR", "RF18C1", end_to_end_id=e2e)
            counts = await bank.wait_delivered()
            await receiver.wait_until(
                lambda: all(len(receiver.of(e)) == n for e, n in expected.items())
            )
            assert counts["delivered"] == sum(expected.values()) == len(receiver.received)
            faults = sorted(
                (f["fault"], f["end_to_end_id"], f["type"]) for f in await bank.faults()
            )
            statement = await bank.statement(CENTER, datetime.now(UTC).date())
    finally:
        await receiver.stop()
    return receiver, faults, {e.end_to_end_id for e in statement.entries}


async def test_notification_faults_follow_the_seed(tmp_path: Path) -> None:
    plan = FaultPlan(SEED, parse_rates(NOTIFICATION_FAULTS))
    decided = {e2e: plan.for_event(NotificationType.CREDIT, e2e) for e2e in IDS}
    lost = [e for e, f in decided.items() if f.lose]
    doubled = [e for e, f in decided.items() if f.duplicate]
    delayed = [e for e, f in decided.items() if f.delay]
    reordered = [e for e, f in decided.items() if f.reorder]
    assert all([lost, doubled, delayed, reordered])  # the seed shows every kind

    first, faults, on_statement = await run_credits(tmp_path / "a")
    second, second_faults, _ = await run_credits(tmp_path / "b")

    assert faults == second_faults  # same seed, same operations: same faults
    assert {e for kind, e, _ in faults if kind == "lost"} == set(lost)
    assert {e for kind, e, _ in faults if kind == "duplicated"} == set(doubled)
    assert {e for kind, e, _ in faults if kind == "delayed"} == set(delayed)
    assert {e for kind, e, _ in faults if kind == "reordered"} == set(reordered)
    for receiver in (first, second):
        assert receiver.forged == 0
        assert not any(receiver.of(e) for e in lost)
        for e2e in doubled:  # the same event twice
            assert len({n.event_id for n in receiver.of(e2e)}) == 1
        arrival = [n.end_to_end_id for n in receiver.received]
        assert arrival != [e for e in IDS if e not in lost]
        for e2e in reordered:  # held back until the next one that went straight out
            after = IDS[IDS.index(e2e) + 1 :]
            following = next(
                (e for e in after if not decided[e].lose and not decided[e].reorder), None
            )
            if following is not None and not decided[following].delay:
                assert arrival.index(following) < arrival.index(e2e)
    assert set(lost) <= on_statement  # what was lost can be recovered from the statement
    assert set(IDS) <= on_statement


TIMEOUT_AND_RETURN = (
    "lose=0,duplicate=0,delay=0,reorder=0,timeout=1,returns=1,"
    "answer_delay_seconds=3,return_after_seconds=0.2"
)


async def test_timeout_after_execution_and_returned_payout(tmp_path: Path) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with BankSim(
            tmp_path, notify_url=receiver.url, faults=7, fault_rates=TIMEOUT_AND_RETURN
        ) as bank:
            buyer = await bank.open_account("Slow Buyer", "EUR", "100.00")
            supplier = await bank.open_account("Returning Supplier", "EUR")
            async with HttpBank(bank.url, API_KEY, timeout=0.5) as adapter:
                deposit = bank.order(buyer, CENTER, "60.00", "EUR", "RF18C1", "TO-1")
                with pytest.raises(BankUnavailableError):
                    await adapter.transfer(deposit)
                booked = await bank.transfer("TO-1")  # executed although unanswered
                assert booked.status is TransferStatus.EXECUTED
                assert await adapter.transfer(deposit) == booked  # the retry: first result
                assert await bank.balance(buyer) == "40.00"

                payout = bank.order(CENTER, supplier, "25.00", "EUR", "RF18W1", "WD-1")
                with pytest.raises(BankUnavailableError):
                    await adapter.transfer(payout)
                settled = await adapter.transfer(payout)
                assert settled.status is TransferStatus.EXECUTED
            assert (await bank.wait_delivered())["delivered"] == 3
            await receiver.wait_until(lambda: len(receiver.of("WD-1")) == 2)
            assert (await bank.transfer("WD-1")).status is TransferStatus.RETURNED
            assert await bank.balance(CENTER) == "60.00"
            assert await bank.balance(supplier) == "0.00"
            faults = [(f["fault"], f["end_to_end_id"]) for f in await bank.faults()]
    finally:
        await receiver.stop()
    assert [n.type for n in receiver.of("TO-1")] == [NotificationType.CREDIT]
    assert [n.type for n in receiver.of("WD-1")] == [
        NotificationType.PAYOUT_SETTLED,
        NotificationType.PAYOUT_RETURNED,
    ]
    assert ("timeout", "TO-1") in faults
    assert ("timeout", "WD-1") in faults
    assert ("returned", "WD-1") in faults
    assert ("returned", "TO-1") not in faults  # only payouts from the center come back
