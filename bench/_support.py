"""Shared by the service benchmarks: the center as a child process, set-up through the API.

Each benchmark runs `python -m exchange serve` as a child process on a fresh data folder, so it
starts its own embedded PostgreSQL, and stops it with SIGTERM (the server then stops its
PostgreSQL itself). Nothing here imports the service: the benchmarks talk to it over HTTP only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from exchange.db.embedded import EmbeddedPostgres, free_port

OPERATOR_KEY = "tck_bench-operator-key-0123456789abcdef"
REGION = "BENCH-1"
STARTUP_LIMIT = 120.0
_numbers = itertools.count(1)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of the (sorted) values lie; nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def _stat(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its live children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(entry)
        # fields[1] is the parent's pid; fields[11] and [12] are utime and stime
        if fields is not None and (int(entry) == pid or int(fields[1]) == pid):
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def postmaster_pid(data_dir: Path) -> int | None:
    """The embedded PostgreSQL's server process, if it runs."""
    return EmbeddedPostgres(data_dir).server_pid()


@contextlib.contextmanager
def scratch_folder(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh folder for the center's data (its own PostgreSQL cluster), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        if keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def center_env(data_dir: Path, log_level: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's center: embedded PostgreSQL, no rate limiting."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        EXCHANGE_DATA_DIR=str(data_dir),
        EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY,
        EXCHANGE_LOG_LEVEL=log_level,
        # the limiter protects the service from one runaway key; the benchmark is that key
        EXCHANGE_RATE_LIMIT_PER_SECOND="10000000",
        EXCHANGE_RATE_LIMIT_BURST="10000000",
    )
    env.update(extra)
    return env


class Child:
    """A child process with its output in a log file; stopped by signal and waited for."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self.started = time.monotonic()
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 120.0) -> int:
        """Signal the process and wait for it; kill it only if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


class Center(Child):
    """`python -m exchange serve` on its own data folder and a free port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        log_level: str = "INFO",
        port: int | None = None,
        python: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [*(python or [sys.executable]), "-m", "exchange", "serve", "--port", str(self.port)]
        super().__init__(
            args,
            center_env(data_dir, log_level, **(env or {})),
            data_dir,
            data_dir / f"serve-{self.port}.log",
        )

    async def wait_ready(self, http: aiohttp.ClientSession, limit: float = STARTUP_LIMIT) -> float:
        """Seconds from the process start until `/readyz` answers 200."""
        deadline = self.started + limit
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the center exited:\n{self.tail()}")
            try:
                async with http.get(self.base + "/readyz") as response:
                    if response.status == 200:
                        return time.monotonic() - self.started
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.02)
        raise RuntimeError(f"the center was not ready in {limit} s:\n{self.tail()}")


class Api:
    """A JSON client bound to one API key; raises on any unexpected status."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str) -> None:
        self.http = http
        self.base = base
        self.headers = {"Authorization": f"Bearer {key}"}

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        async with self.http.request(
            method, self.base + path, json=body, headers=self.headers
        ) as response:
            data = await response.json(content_type=None)
            if response.status != expect:
                raise RuntimeError(f"{method} {path}: {response.status} {data}")
            return data


@dataclass
class Market:
    """What the set-up created: commodity codes and the traders' API keys."""

    commodities: list[str]
    buyers: list[str] = field(default_factory=list)
    suppliers: list[str] = field(default_factory=list)


def commodity_body(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"Bench commodity {code}",
        "unit": "t",
        "currency": "EUR",
        "tick_size": "0.50",
        "lot_size": "0.5",
        "min_quantity": "1",
        "fee_rate_bps": 15,
        "review_threshold": "1000000000.00",
    }


async def _participant(operator: Api, roles: list[str]) -> str:
    number = next(_numbers)
    body = {
        "legal_name": f"Bench Trader {number}",
        "registration_number": f"BENCH-{number}",
        "contact": {"name": "Bench", "email": f"bench{number}@bench.example"},
        "home_region": REGION,
        "roles": roles,
    }
    created = await operator.call("POST", "/v1/participants", body, expect=201)
    return str(created["api_key"]["key"])


async def set_up_market(
    http: aiohttp.ClientSession, base: str, commodities: int, buyers: int, suppliers: int
) -> Market:
    """A region, `commodities` commodities, and buyer and supplier participants."""
    operator = Api(http, base, OPERATOR_KEY)
    await operator.call("POST", "/v1/regions", {"code": REGION, "name": "Bench"}, expect=201)
    codes = [f"BENCH-{i}" for i in range(1, commodities + 1)]
    for code in codes:
        await operator.call("POST", "/v1/commodities", commodity_body(code), expect=201)
    market = Market(codes)
    market.buyers = [await _participant(operator, ["buyer"]) for _ in range(buyers)]
    market.suppliers = [await _participant(operator, ["supplier"]) for _ in range(suppliers)]
    return market
