"""The agent worked by hand: commands read from stdin (`commands.py`), what happens printed."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from exchange.delivery.agent.client import CenterClient
from exchange.delivery.agent.commands import HELP, Help, ListTasks, Quit, TaskEvent, parse
from exchange.delivery.agent.errors import CenterRefusedError, CenterUnavailableError, CommandError
from exchange.delivery.agent.receipt import proof_sha256, receipt


def read_lines(stream: TextIO, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines of `stream` as they come, from a daemon thread (it never holds up the exit);
    None at the end of input."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, name="node-agent-stdin", daemon=True).start()
    return lines


def describe(task: dict[str, Any]) -> str:
    """One line about a task."""
    route = f"{task.get('origin_region', '?')} -> {task.get('destination_region', '?')}"
    return (
        f"task {task.get('id')} [{task.get('status')}] contract {task.get('contract_id')}"
        f" quantity {task.get('quantity')} {route} due {task.get('window_end')}"
    )


class Console:
    def __init__(self, client: CenterClient, say: Callable[[str], None], stop: asyncio.Event):
        self.client = client
        self.say = say
        self.stop = stop

    async def run(self, stream: TextIO = sys.stdin) -> None:
        lines = read_lines(stream, asyncio.get_running_loop())
        self.say("ready: type help for the commands")
        while not self.stop.is_set():
            line = await lines.get()
            if line is None:
                return  # no more input: the agent goes on until told to stop
            await self.handle(line)

    async def handle(self, line: str) -> None:
        try:
            command = parse(line)
        except CommandError as exc:
            self.say(f"error: {exc}")
            return
        if command is None:
            return
        if isinstance(command, Quit):
            self.stop.set()
        elif isinstance(command, Help):
            self.say(HELP)
        elif isinstance(command, ListTasks):
            await self._call(self._list())
        else:
            await self._call(self._post(command))

    async def _call(self, work: Any) -> None:
        try:
            await work
        except CenterRefusedError as exc:
            self.say(f"refused: {exc}")
        except CenterUnavailableError as exc:
            self.say(f"center unavailable: {exc}")
        except CommandError as exc:
            self.say(f"error: {exc}")

    async def _list(self) -> None:
        tasks = await self.client.tasks()
        for task in tasks:
            self.say(describe(task))
        self.say(f"{len(tasks)} task(s)")

    async def _post(self, command: TaskEvent) -> None:
        body = dict(command.body)
        if body["type"] == "delivered":
            body["proof_sha256"] = self._proof(command)
        answer = await self.client.post_event(command.task_id, body)
        status = answer.get("status") if isinstance(answer, dict) else None
        now = f", now {status}" if status else ""
        self.say(f"ok: task {command.task_id} {body['type']}{now}")

    def _proof(self, command: TaskEvent) -> str:
        if command.proof_file is not None:
            try:
                return proof_sha256(command.proof_file.read_bytes())
            except OSError as exc:
                raise CommandError(f"cannot read the proof file: {exc}") from None
        body = command.body
        content = receipt(
            self.client.node, command.task_id, body["delivered_quantity"],
            body["receiver_name"], datetime.now(UTC),
        )  # fmt: skip
        return proof_sha256(content)
