"""The agent's life: the `node` WebSocket (reconnecting with backoff), the heartbeat, and the
tasks worked by hand (`console.py`) or by simulated drivers (`driver.py`), until SIGTERM,
SIGINT or `quit`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from exchange.delivery.agent.client import CenterClient
from exchange.delivery.agent.console import Console, describe
from exchange.delivery.agent.driver import Driver
from exchange.delivery.agent.errors import CenterRefusedError, CenterUnavailableError
from exchange.delivery.agent.plan import Rates, plan_for

OPEN = frozenset({"assigned", "accepted", "picked_up", "in_transit"})
# a `task` message with one of these events takes the task from the node (the task in it is
# as it stood with the node)
GONE = frozenset({"withdrawn", "expired", "cancelled"})


@dataclass(frozen=True)
class AgentConfig:
    node: str
    url: str
    key: str
    simulate: bool = False
    seed: int | None = None
    speed: float = 1.0
    handoff: Path | None = None
    rates: Rates = field(default_factory=Rates)
    heartbeat_seconds: float = 10.0
    backoff_max: float = 5.0


def _print(line: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    print(f"{stamp} {line}", flush=True)


class Agent:
    def __init__(self, config: AgentConfig, say: Callable[[str], None] = _print) -> None:
        self.config = config
        self.say = say
        self.stop = asyncio.Event()
        self.client = CenterClient(config.url, config.node, config.key)
        self.tasks: dict[int, dict[str, Any]] = {}
        self.drivers: dict[int, asyncio.Task[None]] = {}
        self.fatal: str | None = None

    async def run(self) -> None:
        workers = [asyncio.create_task(self._socket()), asyncio.create_task(self._heartbeat())]
        if not self.config.simulate:
            workers.append(asyncio.create_task(Console(self.client, self.say, self.stop).run()))
        try:
            await self.stop.wait()
        finally:
            for worker in [*workers, *self.drivers.values()]:
                worker.cancel()
            await asyncio.gather(*workers, *self.drivers.values(), return_exceptions=True)
            await self.client.close()

    # the node channel

    async def _socket(self) -> None:
        wait = 0.1
        while not self.stop.is_set():
            try:
                ws = await self.client.connect()
            except CenterRefusedError as exc:
                self._give_up(f"the center refused the connection: {exc}")
                return
            except CenterUnavailableError as exc:
                self.say(f"cannot reach the center ({exc}); again in {wait:.1f} s")
            else:
                wait = 0.1
                await self._listen(ws)
            await self._pause(wait)
            wait = min(wait * 2, self.config.backoff_max)

    async def _listen(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.say(f"connected to {self.config.url} as node {self.config.node}")
        try:
            async for frame in ws:
                if frame.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self._received(frame.data)
        finally:
            await ws.close()
        if not self.stop.is_set():
            self.say("disconnected from the center; reconnecting")

    def _received(self, data: str | bytes) -> None:
        try:
            message = msgspec.json.decode(data)
        except msgspec.DecodeError:
            self.say("a message from the center that is not JSON was ignored")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "tasks_snapshot":
            for task in message.get("tasks", []):
                self.seen(task)
        elif kind == "task" and isinstance(message.get("task"), dict):
            self.seen(message["task"], str(message.get("event", "")))
        elif kind == "error":
            self.say(f"center: {message.get('code')}: {message.get('message')}")
        elif kind == "subscribed":
            self.say("subscribed to the node channel")

    def seen(self, task: dict[str, Any], event: str = "") -> None:
        """The center told us how a task stands now (and what happened, `event`)."""
        task_id = task.get("id")
        if not isinstance(task_id, int):
            return
        before = self.tasks.get(task_id, {}).get("status")
        self.tasks[task_id] = task
        mine = event not in GONE and self._mine(task)
        if event in GONE:
            self.say(f"task {task_id}: {event}, no longer ours")
        elif before != task.get("status") or not mine:
            offered = task.get("status") == "assigned" and before != "assigned"
            self.say(("offered: " if offered and mine else "") + describe(task))
        if not mine:
            self._drop(task_id)
        elif self.config.simulate:
            self._drive(task)

    def _mine(self, task: dict[str, Any]) -> bool:
        node = task.get("node", task.get("node_code"))
        return task.get("status") in OPEN and node in (None, self.config.node)

    def _drive(self, task: dict[str, Any]) -> None:
        task_id = int(task["id"])
        if task_id in self.drivers or self.config.handoff is None:
            return
        quantity = str(task.get("quantity", "0"))
        plan = plan_for(task_id, quantity, self.config.seed, self.config.rates)
        driver = Driver(self.client, self.config.handoff, self.config.speed, self.say)
        running = asyncio.create_task(driver.drive(plan, str(task["status"])))
        self.drivers[task_id] = running
        running.add_done_callback(lambda _: self._finished(task_id, running))

    def _finished(self, task_id: int, running: asyncio.Task[None]) -> None:
        if self.drivers.get(task_id) is running:
            del self.drivers[task_id]
        if not running.cancelled() and running.exception() is not None:
            self.say(f"task {task_id}: the driver stopped: {running.exception()!r}")

    def _drop(self, task_id: int) -> None:
        running = self.drivers.pop(task_id, None)
        if running is not None:
            running.cancel()

    # the heartbeat

    async def _heartbeat(self) -> None:
        healthy: bool | None = None
        while not self.stop.is_set():
            try:
                await self.client.heartbeat()
                if healthy is not True:
                    self.say("heartbeat ok")
                healthy = True
            except CenterRefusedError as exc:
                if exc.status in (401, 403, 404):  # not this node's key, or no such node
                    self._give_up(f"the center refused the heartbeat: {exc}")
                    return
                self.say(f"heartbeat refused ({exc}); going on")
            except CenterUnavailableError as exc:
                if healthy is not False:
                    self.say(f"heartbeat failed ({exc}); going on")
                healthy = False
            await self._pause(self.config.heartbeat_seconds)

    # stopping

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    def _give_up(self, why: str) -> None:
        self.fatal = why
        self.say(why)
        self.stop.set()


async def run_agent(config: AgentConfig) -> int:
    """Run until SIGTERM, SIGINT or `quit`; 0, or 1 when the center refused the node."""
    agent = Agent(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, agent.stop.set)
    mode = "simulating" if config.simulate else "by hand"
    agent.say(f"node agent {config.node} ({mode}) starting")
    await agent.run()
    agent.say("node agent stopped")
    sys.stdout.flush()
    return 1 if agent.fatal else 0
