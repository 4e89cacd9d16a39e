"""`exchange node-agent` in a child process, for tests that need a node's own system.

    agent = NodeAgent(tmp_path, url, "NORTH", key, simulate=True, handoff=folder, speed=50_000)
    await agent.start()
    try:
        await agent.wait_for("task 12: delivered")
    finally:
        await agent.stop()

It writes what it prints to `agent.log`; `send(line)` types a command on its stdin (by hand).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

WAIT = 20.0


class NodeAgent:
    """The node agent as a real process, stopped by its pid."""

    def __init__(
        self,
        tmp_path: Path,
        url: str,
        node: str,
        key: str,
        *,
        simulate: bool = False,
        handoff: Path | None = None,
        seed: int | None = None,
        speed: float = 50_000.0,
        heartbeat: float = 0.5,
        extra: list[str] | None = None,
    ) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.log = tmp_path / f"node-agent-{node}-{time.monotonic_ns()}.log"
        self.args = [sys.executable, "-m", "exchange", "node-agent", "--node", node]
        self.args += ["--url", url, "--speed", str(speed), "--heartbeat", str(heartbeat)]
        if simulate:
            self.args.append("--simulate")
        if handoff is not None:
            self.args += ["--handoff", str(handoff)]
        if seed is not None:
            self.args += ["--seed", str(seed)]
        self.args += extra or []
        self.env = {**os.environ, "EXCHANGE_NODE_KEY": key, "PYTHONUNBUFFERED": "1"}
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as out:
            return subprocess.Popen(
                self.args, env=self.env, stdin=subprocess.PIPE, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def start(self) -> None:
        self.process = self._spawn()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for(self, pattern: str, limit: float = WAIT, count: int = 1) -> str:
        """Wait until the output holds `pattern` (a regular expression) `count` times; returns
        the output."""
        deadline = time.monotonic() + limit
        while True:
            output = self.text()
            if len(re.findall(pattern, output)) >= count:
                return output
            assert time.monotonic() < deadline, f"no {pattern!r} within {limit} s:\n{output}"
            await asyncio.sleep(0.02)

    def send(self, line: str) -> None:
        """Type a command on the agent's stdin."""
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    async def exited(self, limit: float = WAIT) -> int:
        """Wait for the process to end by itself; its exit code."""
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait, limit)

    async def stop(self, signum: int = signal.SIGTERM) -> int | None:
        """`signum` to the process (by its pid), then wait; returns its exit code."""
        if self.process is None:
            return None
        process = self.process
        if process.poll() is None:
            os.kill(process.pid, signum)
        try:
            return await asyncio.to_thread(process.wait, 15)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
            if process.stdin is not None:
                process.stdin.close()
