"""`exchange node-agent` as a real process against the node API (the protocol stand-in of
tests/node_api_standin.py on loopback): simulated drivers with the buyer's code from the
handoff folder, reconnecting, resuming, leaving a task that moved on, commands typed by hand,
and stopping on a signal."""

from __future__ import annotations

import hashlib
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exchange.delivery.handoff import leave_code
from tests.node_api_standin import NodeApiStandIn
from tests.nodeagent import NodeAgent

KEY = "tck_node-key-for-the-agent-tests-0123"
NODE = "NORTH"


@pytest.fixture
async def api() -> AsyncIterator[NodeApiStandIn]:
    standin = NodeApiStandIn(NODE, KEY)
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


@pytest.fixture
async def simulated(api: NodeApiStandIn, tmp_path: Path) -> AsyncIterator[NodeAgent]:
    agent = NodeAgent(tmp_path, api.url, NODE, KEY, simulate=True, handoff=tmp_path / "codes")
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


async def test_a_simulated_driver_delivers_with_the_code_the_receiver_hands_over(
    api: NodeApiStandIn, simulated: NodeAgent, tmp_path: Path
) -> None:
    await api.wait_until(lambda: api.subscriptions >= 1 and api.heartbeats >= 1)
    await api.offer(1, "12", "482913")
    await simulated.wait_for("task 1: at the door, waiting for the receiver's code")
    assert api.kinds(1) == ["accepted", "picked_up", "in_transit"]
    assert api.status(1) == "in_transit"  # nothing delivered without the code

    leave_code(tmp_path / "codes", 1, "000000", "Ann Lee")  # the wrong one first
    await api.wait_until(lambda: (1, "delivered", "WRONG_DELIVERY_CODE") in api.refused)
    leave_code(tmp_path / "codes", 1, "482913", "Ann Lee")
    await api.wait_until(lambda: api.status(1) == "delivered")

    delivered = next(body for task, body in api.events if body["type"] == "delivered")
    assert delivered["delivery_code"] == "482913"
    assert delivered["receiver_name"] == "Ann Lee"
    assert delivered["delivered_quantity"] == "12"
    assert re.fullmatch(r"[0-9a-f]{64}", delivered["proof_sha256"])
    await api.wait_until(lambda: api.heartbeats >= 3)  # it keeps beating


async def test_the_agent_reconnects_and_resumes_its_open_tasks(
    api: NodeApiStandIn, simulated: NodeAgent, tmp_path: Path
) -> None:
    await api.wait_until(lambda: api.subscriptions == 1)
    await api.offer(2, "5", "111111")
    await simulated.wait_for("task 2: at the door")
    await api.drop_sockets()
    await api.wait_until(lambda: api.subscriptions == 2)  # back, with a fresh snapshot
    await simulated.wait_for("reconnecting")

    await api.offer(3, "7", "333333")  # offered on the new connection
    leave_code(tmp_path / "codes", 2, "111111")
    leave_code(tmp_path / "codes", 3, "333333")
    await api.wait_until(lambda: api.status(2) == api.status(3) == "delivered")
    assert api.kinds(2).count("delivered") == 1  # the snapshot did not start a second driver
    assert api.kinds(3) == ["accepted", "picked_up", "in_transit", "delivered"]


async def test_a_task_that_moved_on_is_left_alone(
    api: NodeApiStandIn, simulated: NodeAgent, tmp_path: Path
) -> None:
    await api.wait_until(lambda: api.subscriptions == 1)
    await api.offer(4, "3", "444444")
    await simulated.wait_for("task 4: at the door")
    await api.withdraw(4)
    await simulated.wait_for("task 4: withdrawn, no longer ours")
    leave_code(tmp_path / "codes", 4, "444444")
    await api.offer(5, "1", "555555")  # the agent is still working: a later task goes through
    leave_code(tmp_path / "codes", 5, "555555")
    await api.wait_until(lambda: api.status(5) == "delivered")
    assert "delivered" not in api.kinds(4)
    assert (4, "delivered", "NOT_FOUND") not in api.refused  # it did not even try


async def test_a_driver_retries_while_the_center_is_away_and_after_a_lost_answer(
    api: NodeApiStandIn, simulated: NodeAgent, tmp_path: Path
) -> None:
    await api.wait_until(lambda: api.subscriptions == 1)
    api.unavailable = 3  # the first three posts are answered 503 and change nothing
    api.lose_answers = 1  # then one goes through but its answer is lost
    await api.offer(7, "2", "777777")
    leave_code(tmp_path / "codes", 7, "777777")
    await api.wait_until(lambda: api.status(7) == "delivered")
    assert api.kinds(7) == ["accepted", "picked_up", "in_transit", "delivered"]  # each once
    assert api.refused == [(7, "accepted", "INVALID_TASK_TRANSITION")]  # the retry after the loss
    assert api.unavailable == api.lose_answers == 0


async def test_commands_typed_by_hand(api: NodeApiStandIn, tmp_path: Path) -> None:
    await api.offer(6, "9", "606060")
    proof = tmp_path / "photo.jpg"
    proof.write_bytes(b"a photo of nine crates")
    agent = NodeAgent(tmp_path, api.url, NODE, KEY)
    await agent.start()
    try:
        await agent.wait_for("ready")
        agent.send("tasks")
        await agent.wait_for(r"task 6 \[assigned\] contract 1006 quantity 9 EU-N -> EU-S")
        agent.send("launch 6")
        await agent.wait_for("error: unknown command 'launch'")
        agent.send("pickup 6")  # not accepted yet
        await agent.wait_for("refused: 409 INVALID_TASK_TRANSITION")
        for line in ("accept 6", "pickup 6", "transit 6 at the regional hub", "shortage 6 8"):
            agent.send(line)
        await agent.wait_for("ok: task 6 shortage")
        agent.send("deliver 6 8 'Bo Berg' 123123")
        await agent.wait_for("refused: 422 WRONG_DELIVERY_CODE")
        agent.send(f"deliver 6 8 'Bo Berg' 606060 {proof}")
        await agent.wait_for("ok: task 6 delivered, now delivered")
        agent.send("quit")
        assert await agent.exited() == 0
    finally:
        await agent.stop()
    assert api.kinds(6) == ["accepted", "picked_up", "in_transit", "shortage", "delivered"]
    transit, shortage, delivered = (body for _, body in api.events[2:])
    assert transit["location"] == "at the regional hub"
    assert shortage["available_quantity"] == "8"
    assert delivered["receiver_name"] == "Bo Berg"
    assert delivered["proof_sha256"] == hashlib.sha256(b"a photo of nine crates").hexdigest()
    assert "node agent stopped" in agent.text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_the_agent_stops_cleanly_on_a_signal(
    api: NodeApiStandIn, tmp_path: Path, signum: int
) -> None:
    agent = NodeAgent(tmp_path, api.url, NODE, KEY, simulate=True, handoff=tmp_path)
    await agent.start()
    try:
        await api.wait_until(lambda: api.subscriptions == 1)
    finally:
        code = await agent.stop(signum)
    assert code == 0, agent.text()
    assert "node agent stopped" in agent.text()
    assert "Traceback" not in agent.text()


async def test_a_key_the_center_refuses_ends_the_agent(api: NodeApiStandIn, tmp_path: Path) -> None:
    agent = NodeAgent(tmp_path, api.url, NODE, "tck_not-the-nodes-key-000000000000")
    await agent.start()
    try:
        assert await agent.exited() == 1
    finally:
        await agent.stop()
    assert "refused" in agent.text()
    assert api.heartbeats == 0


async def test_the_agent_waits_for_a_center_that_is_not_up_yet(tmp_path: Path) -> None:
    standin = NodeApiStandIn(NODE, KEY)
    url = await standin.start()
    await standin.stop()  # nothing listens there now
    agent = NodeAgent(tmp_path, url, NODE, KEY, simulate=True, handoff=tmp_path)
    await agent.start()
    try:
        await agent.wait_for("cannot reach the center", count=2)
        assert agent.process is not None
        assert agent.process.poll() is None
    finally:
        assert await agent.stop() == 0


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--simulate"], "--simulate needs --handoff DIR"),
        (["--url", "ftp://center"], "--url must be an http:// or https:// URL"),
        (["--shortage-rate", "0.7", "--failure-rate", "0.6"], "add up to more than 1"),
        (["--speed", "0"], "Invalid value for '--speed'"),
    ],
)
async def test_the_command_line_refuses_what_cannot_work(
    tmp_path: Path, options: list[str], says: str
) -> None:
    # given last, each option overrides what the helper passes (click keeps the last one)
    agent = NodeAgent(tmp_path, "http://127.0.0.1:9", NODE, KEY, extra=options)
    await agent.start()
    try:
        assert await agent.exited() != 0
    finally:
        await agent.stop()
    assert says in agent.text()
