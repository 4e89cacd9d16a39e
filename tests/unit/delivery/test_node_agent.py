"""The node agent's pure parts: the commands typed by hand, the simulated plans, the receipt,
and the handoff folder the buyer's receiver leaves codes in."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.delivery.agent.commands import HELP, Help, ListTasks, Quit, TaskEvent, parse
from exchange.delivery.agent.driver import remaining
from exchange.delivery.agent.errors import CommandError
from exchange.delivery.agent.plan import BASE_DELAYS, Rates, plan_for
from exchange.delivery.agent.receipt import proof_sha256, receipt
from exchange.delivery.handoff import handoff_path, leave_code, read_code


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tasks", ListTasks()),
        ("  QUIT ", Quit()),
        ("help", Help()),
        ("accept 12", TaskEvent(12, {"type": "accepted"})),
        ("pickup 3", TaskEvent(3, {"type": "picked_up"})),
        (
            "reject 4 no trucks today",
            TaskEvent(4, {"type": "rejected", "reason": "no trucks today"}),
        ),
        ("transit 5 'at the hub'", TaskEvent(5, {"type": "in_transit", "location": "at the hub"})),
        ("fail 6 road closed", TaskEvent(6, {"type": "failed", "reason": "road closed"})),
        ("shortage 7 8.5", TaskEvent(7, {"type": "shortage", "available_quantity": "8.5"})),
        (
            "deliver 8 10 'Ann Lee' 123456",
            TaskEvent(
                8,
                {
                    "type": "delivered",
                    "delivered_quantity": "10",
                    "receiver_name": "Ann Lee",
                    "delivery_code": "123456",
                },
            ),
        ),
        (
            "deliver 9 2 Bo 654321 /tmp/photo.jpg",
            TaskEvent(
                9,
                {
                    "type": "delivered",
                    "delivered_quantity": "2",
                    "receiver_name": "Bo",
                    "delivery_code": "654321",
                },
                Path("/tmp/photo.jpg"),
            ),
        ),
        ("", None),
        ("   ", None),
    ],
)
def test_commands_parse(line: str, expected: object) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("launch 1", "unknown command"),
        ("accept", "usage: accept ID"),
        ("accept 1 2", "usage: accept ID"),
        ("accept x", "positive whole number"),
        ("accept 0", "positive whole number"),
        ("accept -3", "positive whole number"),
        ("reject 1", "usage: reject ID REASON"),
        ("shortage 1 -2", "quantity must be"),
        ("shortage 1 0", "quantity must be"),
        ("shortage 1 1e3", "quantity must be"),
        ("deliver 1 10 Ann", "usage: deliver"),
        ("deliver 1 10 Ann 12-34", "letters and digits"),
        ("deliver 1 10 Ann 1234 a b", "usage: deliver"),
        ("transit 1 'unclosed", "quotation"),
        ("fail 1 " + "x" * 501, "longer than"),
    ],
)
def test_bad_commands_say_why(line: str, says: str) -> None:
    with pytest.raises(CommandError, match=says):
        parse(line)


def test_help_lists_every_command() -> None:
    for name in ("tasks", "accept", "reject", "pickup", "transit", "deliver", "shortage",
                 "fail", "quit"):  # fmt: skip
        assert any(line.startswith(name) for line in HELP.splitlines()), name


def test_without_a_seed_every_task_goes_the_happy_way_with_the_base_delays() -> None:
    plan = plan_for(7, "25", None)
    events = [step.event for step in plan.steps]
    assert events == ["accepted", "picked_up", "in_transit", "delivered"]
    assert plan.outcome == "delivered"
    assert plan.delivered_quantity == "25"
    assert plan.steps[-1].fields == {"delivered_quantity": "25"}
    assert sum(step.delay for step in plan.steps) == sum(BASE_DELAYS.values())


def test_a_seed_gives_each_task_the_same_plan_in_any_order() -> None:
    forwards = [plan_for(task, "40", 11) for task in range(1, 60)]
    backwards = [plan_for(task, "40", 11) for task in reversed(range(1, 60))]
    assert forwards == list(reversed(backwards))
    assert forwards != [plan_for(task, "40", 12) for task in range(1, 60)]


def test_seeded_plans_fall_short_and_fail_about_as_often_as_the_rates_say() -> None:
    rates = Rates(shortage=0.2, failure=0.1)
    plans = [plan_for(task, "100", 3, rates) for task in range(1, 1001)]
    outcomes = [plan.outcome for plan in plans]
    assert 150 <= outcomes.count("shortage") <= 250
    assert 60 <= outcomes.count("failed") <= 140
    for plan in plans:
        events = [step.event for step in plan.steps]
        assert events[0] == "accepted"
        assert all(step.delay >= 0 for step in plan.steps)
        if plan.outcome == "failed":
            assert events[-1] == "failed"
            assert "delivered" not in events
        elif plan.outcome == "shortage":
            short = plan.steps[events.index("shortage")].fields["available_quantity"]
            assert events[:3] == ["accepted", "picked_up", "shortage"]
            assert 0 < Decimal(short) < 100
            assert plan.steps[-1].fields["delivered_quantity"] == short == plan.delivered_quantity
        else:
            assert plan.steps[-1].fields["delivered_quantity"] == "100"


def test_a_shortage_keeps_the_quantitys_decimals_and_never_reaches_zero() -> None:
    always_short = Rates(shortage=1.0, failure=0.0)
    for task in range(1, 200):
        short = plan_for(task, "7.25", 5, always_short).delivered_quantity
        assert 0 < Decimal(short) < Decimal("7.25")
        assert len(short.split(".")[1]) <= 2 if "." in short else True
    # trailing zeros are not precision: "40.000000" falls short in whole units
    shorts = {plan_for(task, "40.000000", 5, always_short).delivered_quantity for task in range(50)}
    assert all(Decimal(short) == int(Decimal(short)) for short in shorts), shorts
    # one unit cannot fall short in whole units: it is delivered in full
    assert {plan_for(task, "1", 5, always_short).outcome for task in range(1, 50)} == {"delivered"}


def test_rates_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Rates(shortage=1.5)
    with pytest.raises(ValueError, match="more than 1"):
        Rates(shortage=0.6, failure=0.6)


@pytest.mark.parametrize(
    ("status", "next_event"),
    [("assigned", "accepted"), ("accepted", "picked_up"), ("picked_up", "in_transit"),
     ("in_transit", "delivered")],
)  # fmt: skip
def test_a_restarted_driver_resumes_where_the_task_stands(status: str, next_event: str) -> None:
    plan = plan_for(1, "10", None)
    assert remaining(plan, status)[0].event == next_event


def test_the_proof_is_the_sha256_of_the_receipt() -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    content = receipt("NORTH", 12, "5", "Ann Lee", at)
    assert b"task: 12" in content
    assert b"received by: Ann Lee" in content
    assert proof_sha256(content) == hashlib.sha256(content).hexdigest()
    assert proof_sha256(content) != proof_sha256(receipt("NORTH", 13, "5", "Ann Lee", at))


def test_a_code_left_in_the_handoff_folder_is_read_for_its_task_only(tmp_path: Path) -> None:
    folder = tmp_path / "handoff"
    assert read_code(folder, 4) is None
    leave_code(folder, 4, "123456", "Ann Lee")
    found = read_code(folder, 4)
    assert found is not None
    assert (found.code, found.receiver) == ("123456", "Ann Lee")
    assert read_code(folder, 5) is None
    leave_code(folder, 4, "654321")  # a second hand-over replaces the first
    again = read_code(folder, 4)
    assert again is not None
    assert again.code == "654321"
    assert sorted(p.name for p in folder.iterdir()) == ["task-4.json"]  # no temporary left


def test_a_file_that_is_not_a_handoff_counts_as_none(tmp_path: Path) -> None:
    handoff_path(tmp_path, 3).write_text("half a fi")
    assert read_code(tmp_path, 3) is None
    handoff_path(tmp_path, 4).write_text('{"task_id": 5, "code": "1"}')
    assert read_code(tmp_path, 4) is None


def test_the_agent_is_a_client_and_loads_nothing_of_the_centers_server() -> None:
    probe = (
        "import sys, exchange.delivery.agent.run;"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('exchange', 'asyncpg')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    allowed = {"exchange", "exchange.delivery", "exchange.delivery.handoff"}
    assert [
        m for m in loaded if m not in allowed and not m.startswith("exchange.delivery.agent")
    ] == []
