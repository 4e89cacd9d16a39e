"""The simulator's fault plan: fixed by the seed, at the rates asked for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from settlement.bank.messages import Notification, NotificationType
from settlement.bank.simulator.faults import FaultKind, FaultPlan, FaultRates, parse_rates


def note(e2e: str, kind: NotificationType = NotificationType.CREDIT) -> Notification:
    return Notification(
        event_id=f"EV-{e2e}",
        type=kind,
        occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
        account="CENTER-EUR",
        bank_reference=f"BR-{e2e}",
        end_to_end_id=e2e,
        amount="1.00",
        currency="EUR",
        reference="RF18C1",
        counterparty_account="XB34SIMB0000000001",
        counterparty_name="Buyer",
    )


IDS = [f"E{i}" for i in range(2000)]


def plan_of(plan: FaultPlan) -> list[object]:
    return [(plan.for_notification(note(e)), plan.times_out(e), plan.returns(e)) for e in IDS[:200]]


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    assert plan_of(FaultPlan(7)) == plan_of(FaultPlan(7))
    assert plan_of(FaultPlan(7)) != plan_of(FaultPlan(8))


def test_rates_are_roughly_kept() -> None:
    rates = FaultRates(lose=0.1, duplicate=0.2, delay=0.1, reorder=0.3, timeout=0.05, returns=0.5)
    plan = FaultPlan(42, rates)
    decided = [plan.for_notification(note(e)) for e in IDS]
    share = {
        "lose": sum(d.lose for d in decided) / len(IDS),
        "duplicate": sum(d.duplicate for d in decided) / len(IDS),
        "timeout": sum(map(plan.times_out, IDS)) / len(IDS),
        "returns": sum(map(plan.returns, IDS)) / len(IDS),
    }
    assert share["lose"] == pytest.approx(0.1, abs=0.03)
    assert share["duplicate"] == pytest.approx(0.2 * 0.9, abs=0.04)
    assert share["timeout"] == pytest.approx(0.05, abs=0.02)
    assert share["returns"] == pytest.approx(0.5, abs=0.05)
    assert all(not d.duplicate and not d.reorder for d in decided if d.lose)
    assert all(d.delay == rates.delay_seconds for d in decided if d.delay)
    assert all(not d.reorder for d in decided if d.delay)


def test_rejected_payouts_are_never_lost() -> None:
    plan = FaultPlan(1, FaultRates(lose=1.0))
    assert plan.for_notification(note("E1")).lose
    assert not plan.for_notification(note("E1", NotificationType.PAYOUT_REJECTED)).lose


def test_no_faults_at_zero_rates() -> None:
    zero = parse_rates("lose=0,duplicate=0,delay=0,reorder=0,timeout=0,returns=0")
    plan = FaultPlan(3, zero)
    assert all(plan.for_notification(note(e)).records(note(e)) == [] for e in IDS[:300])
    assert not any(plan.times_out(e) or plan.returns(e) for e in IDS[:300])


def test_records_name_the_faults() -> None:
    plan = FaultPlan(5, FaultRates(lose=0, duplicate=1, delay=0, reorder=1))
    [dup, reorder] = plan.for_notification(note("E9")).records(note("E9"))
    assert (dup.fault, reorder.fault) == (FaultKind.DUPLICATED, FaultKind.REORDERED)
    assert (dup.event_id, dup.end_to_end_id, dup.type) == ("EV-E9", "E9", NotificationType.CREDIT)


@pytest.mark.parametrize(
    "spec", ["lose", "lose=x", "nothing=1", "lose=1.5", "delay_seconds=-1", "duplicate=0.1,"]
)
def test_unclear_rates_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_rates(spec)


def test_rates_override_the_defaults() -> None:
    rates = parse_rates(" lose=0.5 , answer_delay_seconds=2")
    assert (rates.lose, rates.answer_delay_seconds) == (0.5, 2.0)
    assert rates.duplicate == FaultRates().duplicate
    assert parse_rates(None) == FaultRates()
