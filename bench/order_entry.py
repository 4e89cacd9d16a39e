"""Orders acknowledged durably over HTTP, against an aiohttp echo handler as the ceiling.

    .venv/bin/python bench/order_entry.py --clients 64 --seconds 20

Starts the center (`python -m exchange serve`) as a child process on a fresh data folder, so on
its own embedded PostgreSQL, with the rate limiter raised out of the way; sets up a region,
`--commodities` commodities, buyers and suppliers through the API; then this process is the
load generator: `--clients` coroutines, each on its own keep-alive connection, post orders
(`POST /v1/orders`, each with a unique client_order_id) back to back for `--seconds` after a
warm-up. Buys and sells are priced around one mid price so that part of them cross and trade
and the rest rest in the book. An order counts when its 201 has arrived, which the center sends
only after the order is committed in PostgreSQL. The same load then goes to a tiny aiohttp app
in another child process whose handler only decodes the JSON body and echoes it: the ceiling
of aiohttp on this machine with this client. The last line holds the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from _support import (
    Center,
    Child,
    cpu_seconds,
    free_port,
    percentile,
    postmaster_pid,
    scratch_folder,
    set_up_market,
)

MID_TICKS = 2000  # 1000.00 at a tick of 0.50
TRADERS_PER_SIDE = 8


# -- the echo server (run as `order_entry.py --echo-port P` in a child process) ----------------


def run_echo_server(port: int, uvloop: bool) -> None:
    """An aiohttp app whose one handler decodes the JSON body and encodes it back."""
    import msgspec
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        document = msgspec.json.decode(await request.read())
        return web.Response(
            body=msgspec.json.encode(document), status=201, content_type="application/json"
        )

    if uvloop:
        import uvloop as module

        module.install()
    app = web.Application()
    app.router.add_post("/v1/orders", echo)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=1024)


# -- load ---------------------------------------------------------------------------------------


@dataclass
class Result:
    """What one load run measured."""

    seconds: float = 0.0
    acknowledged: int = 0
    traded: int = 0
    failed: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # seconds of CPU this process used in the measured window
    server_cpu: float = 0.0  # ... the server process
    database_cpu: float = 0.0  # ... PostgreSQL (all its processes)
    machine_busy: float = 0.0  # share of all cores busy in the measured window

    @property
    def per_second(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    def latency_ms(self, fraction: float) -> float:
        return percentile(self.latencies, fraction) * 1000


Body = Callable[[int], bytes]


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def order_maker(client: int, commodity: str, side: str, seed: int) -> Body:
    """Order bodies of one client: its own ids, prices a few ticks either side of the mid.

    Sells reach at most 4 ticks below the mid and buys at most 4 above, while resting orders
    pile up on both sides: a steady share of the orders crosses and trades, the rest rests.
    """
    rng = random.Random(seed)
    sign = 1 if side == "sell" else -1
    prefix = (
        f'{{"commodity":"{commodity}","side":"{side}","time_in_force":"gtc",'
        f'"client_order_id":"c{client}-'
    )

    def make(number: int) -> bytes:
        ticks = MID_TICKS + sign * rng.randint(-4, 20)
        price = f"{ticks // 2}.{'50' if ticks % 2 else '00'}"
        return f'{prefix}{number}","price":"{price}","quantity":"{rng.randint(1, 10)}"}}'.encode()

    return make


async def _client(
    http: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    make: Body,
    window: tuple[float, float],
    result: Result,
) -> None:
    measure_from, until = window
    number = 0
    clock = time.perf_counter
    while (started := clock()) < until:
        number += 1
        async with http.post(url, data=make(number), headers=headers) as response:
            data = await response.read()
            status = response.status
        finished = clock()
        if started < measure_from or finished > until:
            continue
        if status == 201:
            result.acknowledged += 1
            result.latencies.append(finished - started)
            if b'"filled_quantity":"0.000000"' not in data:
                result.traded += 1
        else:
            result.failed[status] = result.failed.get(status, 0) + 1


async def drive(
    url: str,
    clients: list[tuple[dict[str, str], Body]],
    seconds: float,
    warmup: float,
    server: int,
    database: int | None = None,
) -> Result:
    """Each client posts back to back on its own keep-alive connection; measure after warm-up."""
    connector = aiohttp.TCPConnector(limit=len(clients), keepalive_timeout=300)
    result = Result()
    async with aiohttp.ClientSession(connector=connector) as http:
        start = time.perf_counter()
        window = (start + warmup, start + warmup + seconds)
        runs = asyncio.gather(
            *(_client(http, url, headers, make, window, result) for headers, make in clients)
        )
        await asyncio.sleep(warmup)
        cpu, machine = time.process_time(), _cpu_times()
        server_cpu = cpu_seconds(server)
        database_cpu = cpu_seconds(database) if database else 0.0
        await asyncio.sleep(seconds)
        result.client_cpu = time.process_time() - cpu
        result.server_cpu = cpu_seconds(server) - server_cpu
        result.database_cpu = cpu_seconds(database) - database_cpu if database else 0.0
        busy, total = (after - before for after, before in zip(_cpu_times(), machine, strict=True))
        result.machine_busy = busy / total if total else 0.0
        await runs
    result.seconds = seconds
    result.latencies.sort()
    return result


# -- the run ------------------------------------------------------------------------------------


def plan_clients(
    count: int, buyers: list[str], suppliers: list[str], codes: list[str]
) -> list[tuple[dict[str, str], Body]]:
    """Half the clients buy, half sell; spread over the traders' keys and the commodities."""
    plan = []
    for client in range(count):
        side = "buy" if client % 2 == 0 else "sell"
        keys = buyers if side == "buy" else suppliers
        pair = client // 2
        headers = {
            "Authorization": f"Bearer {keys[pair % len(keys)]}",
            "Content-Type": "application/json",
        }
        plan.append((headers, order_maker(client, codes[pair % len(codes)], side, client)))
    return plan


async def _ready(url: str, child: Child, limit: float = 60.0) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"child exited:\n{child.tail()}")
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer in {limit} s")


_PROFILE_FORMATS = {".json": "speedscope", ".txt": "raw"}


def _profile(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    py_spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [str(py_spy), "record", "--pid", str(pid), "--duration", str(int(seconds)),
         "--rate", "200", "--format", _PROFILE_FORMATS.get(output.suffix, "flamegraph"),
         "--output", str(output), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip


# `python -c UVLOOP -m exchange serve ...`: the same command under uvloop's event loop policy
UVLOOP = (
    "import runpy, sys, uvloop; uvloop.install(); sys.argv = sys.argv[2:];"
    " runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


async def _measure_center(args: argparse.Namespace, center: Center) -> Result:
    async with aiohttp.ClientSession() as http:
        await center.wait_ready(http)
        market = await set_up_market(
            http, center.base, args.commodities, TRADERS_PER_SIDE, TRADERS_PER_SIDE
        )
    plan = plan_clients(args.clients, market.buyers, market.suppliers, market.commodities)
    profiler = None
    if args.py_spy:
        await asyncio.sleep(0)  # the profiler attaches during the warm-up
        profiler = _profile(center.pid, args.warmup + args.seconds, Path(args.py_spy))
    try:
        database = postmaster_pid(center.data_dir)
        return await drive(
            center.base + "/v1/orders", plan, args.seconds, args.warmup, center.pid, database
        )
    finally:
        if profiler is not None:
            profiler.wait(timeout=60)


async def _measure_echo(args: argparse.Namespace, folder: Path) -> Result:
    port = free_port()
    echo = Child(
        [
            sys.executable,
            __file__,
            "--echo-port",
            str(port),
            *(["--uvloop"] if args.uvloop else []),
        ],
        env=dict(os.environ),
        cwd=folder,
        log=folder / "echo.log",
    )
    try:
        await _ready(f"http://127.0.0.1:{port}/", echo)
        plan = plan_clients(args.clients, ["buyer-key"], ["supplier-key"], ["BENCH-1"])
        url = f"http://127.0.0.1:{port}/v1/orders"
        return await drive(url, plan, args.seconds, args.warmup, echo.pid)
    finally:
        echo.stop()


def _report(label: str, result: Result) -> None:
    traded = f", {result.traded} of them traded" if label == "center" else ""
    print(
        f"{label}: {result.acknowledged} in {result.seconds:.0f} s = {result.per_second:,.0f}/s,"
        f" p50 {result.latency_ms(0.50):.2f} ms, p99 {result.latency_ms(0.99):.2f} ms{traded},"
        f" failed: {result.failed or 'none'}; CPU in cores: server"
        f" {result.server_cpu / result.seconds:.2f}, PostgreSQL"
        f" {result.database_cpu / result.seconds:.2f}, load generator"
        f" {result.client_cpu / result.seconds:.2f}; machine {result.machine_busy:.0%} busy",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    with scratch_folder("bench-order-entry-", keep=args.keep) as folder:
        python = [sys.executable, "-c", UVLOOP] if args.uvloop else []
        center = Center(folder, log_level=args.log_level, python=python)
        try:
            ours = await _measure_center(args, center)
        finally:
            exit_code = center.stop()
        _report("center", ours)
        if exit_code != 0:
            print(f"the center exited with {exit_code}:\n{center.tail()}", file=sys.stderr)
        echo = await _measure_echo(args, folder)
        _report("echo", echo)
    share = ours.per_second / echo.per_second if echo.per_second else 0.0
    print(
        f"orders={ours.acknowledged} orders_per_sec={ours.per_second:.0f}"
        f" p50_ms={ours.latency_ms(0.50):.2f} p99_ms={ours.latency_ms(0.99):.2f}"
        f" echo_per_sec={echo.per_second:.0f} share_of_echo={share:.2f}"
        f" clients={args.clients} commodities={args.commodities} log_level={args.log_level}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--commodities", type=int, default=1, help="books to spread orders on")
    parser.add_argument(
        "--log-level", default="INFO", help="the center's EXCHANGE_LOG_LEVEL (INFO logs a line"
        " per request, as in production)",
    )  # fmt: skip
    parser.add_argument("--py-spy", metavar="FILE", help="profile the center into FILE (.svg)")
    parser.add_argument(
        "--uvloop", action="store_true", help="run the center and the echo server under uvloop"
        " (an experiment: uvloop must be importable; it is not a dependency of the center)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    parser.add_argument("--echo-port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.echo_port:
        run_echo_server(arguments.echo_port, arguments.uvloop)
    else:
        asyncio.run(main(arguments))
