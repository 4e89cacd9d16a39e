"""`exchange serve` in a child process, as an operator would run it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from exchange.db.embedded import free_port

STARTUP_LIMIT = 20.0


def env_without_database(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(extra)
    return env


class Center:
    """`exchange serve` in a child process."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"serve-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exchange", "serve", "--port", str(self.port)],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def wait_healthy(self, http: aiohttp.ClientSession, path: str = "/readyz") -> float:
        started = time.monotonic()
        while time.monotonic() - started < STARTUP_LIMIT:
            assert self.process.poll() is None, self.log.read_text()
            try:
                async with http.get(self.base + path) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"not healthy in {STARTUP_LIMIT} s:\n{self.log.read_text()}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
