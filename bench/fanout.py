"""Market data fan-out: 1,000 WebSocket subscribers while trades flow at 1,000 trades/s.

    .venv/bin/python bench/fanout.py --subscribers 1000 --rate 1000 --seconds 20

Starts the center (`python -m exchange serve`) as a child process on a fresh data folder (its
own embedded PostgreSQL). `--processes` subscriber processes open `--subscribers` WebSocket
connections between them (`/v1/ws`, subscribed to `trades` of one commodity, and `book` too
with `--book`). A supplier rests one large sell order; this process then sends buy orders that
each take one lot of it, `--rate` a second, as batch calls (`POST /v1/orders/batch`) every
`--interval` seconds on a fixed schedule: every buy becomes one trade.

Lag is measured per trade and per subscriber: the wall clock when the `trades` message arrived
minus the trade's `executed_at` from that message. `executed_at` is the timestamp the book's
writer gives the command before its batch goes to PostgreSQL, so the lag includes the group
commit (a few milliseconds), then the publication and the delivery. All processes share one
machine and its clock. Only trades executed in the measured window (after `--warmup`) count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from _support import Api, Center, scratch_folder, set_up_market

COMMODITY = "BENCH-1"
BIN = 1e-4  # lag histogram resolution: 0.1 ms


# -- subscriber processes (run as `fanout.py --subscriber-of URL ...`) --------------------------


class _Trade(msgspec.Struct):
    executed_at: datetime


_TRADE = msgspec.json.Decoder(_Trade).decode


class _Message(msgspec.Struct):
    type: str
    sequence: int = 0
    trades: list[msgspec.Raw] = []  # only the first one is decoded: see Tally.trades


class Tally:
    """Lags per second of execution (so a window can be chosen afterwards), gaps, drops."""

    def __init__(self) -> None:
        self.lags: dict[int, Counter[int]] = {}
        self.gaps = 0
        self.errors: Counter[str] = Counter()
        self.closed = 0

    def trades(self, arrived: float, trades: list[msgspec.Raw]) -> None:
        """Count every trade of a message with the lag of its first (oldest) trade.

        A message holds the trades of one group commit, stamped within the same batch (well
        under a millisecond apart), so the oldest one's lag is an upper bound for all of them;
        decoding only that one keeps the subscriber processes' CPU for reading frames.
        """
        if not trades:
            return
        executed = _TRADE(trades[0]).executed_at.timestamp()
        second = int(executed)
        bins = self.lags.get(second)
        if bins is None:
            bins = self.lags[second] = Counter()
        bins[int((arrived - executed) / BIN)] += len(trades)


async def _subscriber(
    http: aiohttp.ClientSession, url: str, channels: list[dict[str, str]], tally: Tally,
    ready: asyncio.Event, opened: list[int],
) -> None:  # fmt: skip
    decode = msgspec.json.Decoder(_Message).decode
    async with http.ws_connect(url, max_msg_size=0) as ws:
        await ws.send_json({"type": "subscribe", "channels": channels})
        expected: int | None = None
        async for frame in ws:
            arrived = time.time()
            if frame.type is not aiohttp.WSMsgType.TEXT:
                break
            message = decode(frame.data)
            if message.type == "trades":
                if expected is None:  # the snapshot: recent trades, not new ones
                    opened[0] += 1
                    if opened[0] == opened[1]:
                        ready.set()
                elif message.sequence != expected:
                    tally.gaps += 1
                else:
                    tally.trades(arrived, message.trades)
                expected = message.sequence + 1
            elif message.type == "error":
                tally.errors[json.loads(frame.data)["code"]] += 1
    tally.closed += 1


async def run_subscribers(url: str, key: str, count: int, book: bool) -> None:
    """Open `count` sockets, say "ready", collect until stdin closes, print the tally as JSON."""
    channels = [{"name": "trades", "commodity": COMMODITY}]
    if book:
        channels.append({"name": "book", "commodity": COMMODITY})
    tally, ready, opened = Tally(), asyncio.Event(), [0, count]
    connector = aiohttp.TCPConnector(limit=0)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        tasks = [
            asyncio.create_task(_subscriber(http, url, channels, tally, ready, opened))
            for _ in range(count)
        ]
        await ready.wait()
        # a thousand connections make every full collection slow, and a pause here would be
        # counted as the center's lag: keep what exists out of the collector from now on
        gc.collect()
        gc.freeze()
        print("ready", flush=True)
        window = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start, end = (int(part) for part in window.split())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    lags: Counter[int] = Counter()
    for second, bins in tally.lags.items():
        if start <= second < end:
            lags.update(bins)
    result = {"lags": lags, "gaps": tally.gaps, "errors": tally.errors, "closed": tally.closed}
    print(json.dumps(result), flush=True)


# -- the trade driver ---------------------------------------------------------------------------


async def drive_trades(
    buyer: Api, rate: int, interval: float, seconds: float
) -> tuple[int, float, float]:
    """Crossing buys of one lot each, `rate` a second in batch calls on a fixed schedule.

    Returns (trades, first second of execution, behind): `behind` is how late the last call
    left against its schedule, so a driver that could not keep up shows it.
    """
    per_call = max(1, round(rate * interval))
    calls = int(seconds / interval)
    number = 0
    in_flight: set[asyncio.Task[Any]] = set()
    started = time.time()
    behind = 0.0

    async def place(orders: list[dict[str, str]]) -> None:
        reply = await buyer.call("POST", "/v1/orders/batch", {"orders": orders})
        if any(result["status"] != 201 for result in reply["results"]):
            raise RuntimeError(f"orders refused: {reply['results'][:2]}")

    for call in range(calls):
        await asyncio.sleep(max(0.0, started + call * interval - time.time()))
        behind = time.time() - (started + call * interval)
        orders = []
        for _ in range(per_call):
            number += 1
            orders.append(
                {"client_order_id": f"t{number}", "commodity": COMMODITY, "side": "buy",
                 "price": "1000.00", "quantity": "1", "time_in_force": "ioc"}
            )  # fmt: skip
        task = asyncio.create_task(place(orders))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    return number, started, behind


# -- the run ------------------------------------------------------------------------------------


def _spawn_subscribers(
    args: argparse.Namespace, url: str, key: str, folder: Path
) -> list[subprocess.Popen[str]]:
    shares = [args.subscribers // args.processes] * args.processes
    shares[0] += args.subscribers - sum(shares)
    book = ["--book"] if args.book else []
    processes = []
    for i, share in enumerate(shares):
        with (folder / f"subscribers-{i}.log").open("w") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--subscriber-of", url, key, str(share), *book],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )
    return processes


def _collect(processes: list[subprocess.Popen[str]], window: tuple[int, int]) -> dict[str, Any]:
    lags: Counter[int] = Counter()
    gaps, closed, errors = 0, 0, Counter[str]()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{window[0]} {window[1]}\n")
        process.stdin.flush()
    for process in processes:
        out, _ = process.communicate(timeout=120)
        result = json.loads(out.strip().splitlines()[-1])
        lags.update({int(k): v for k, v in result["lags"].items()})
        gaps += result["gaps"]
        closed += result["closed"]
        errors.update(result["errors"])
    return {"lags": lags, "gaps": gaps, "closed": closed, "errors": dict(errors)}


def histogram_percentile(bins: Counter[int], fraction: float) -> float:
    """The lag in milliseconds below which `fraction` of the counted trades arrived."""
    total = sum(bins.values())
    if not total:
        return float("nan")
    wanted, seen = fraction * total, 0
    for lag in sorted(bins):
        seen += bins[lag]
        if seen >= wanted:
            return (lag + 1) * BIN * 1000  # the bin's upper edge
    return float("nan")


async def _wait_ready(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"a subscriber process did not start: {line!r}")


async def run(args: argparse.Namespace, folder: Path) -> str:
    center = Center(folder, log_level=args.log_level)
    processes: list[subprocess.Popen[str]] = []
    try:
        async with aiohttp.ClientSession() as http:
            await center.wait_ready(http)
            market = await set_up_market(http, center.base, 1, 2, 1)
            supplier = Api(http, center.base, market.suppliers[0])
            resting = {"client_order_id": "big", "commodity": COMMODITY, "side": "sell",
                       "price": "1000.00", "quantity": "10000000"}  # fmt: skip
            await supplier.call("POST", "/v1/orders", resting, expect=201)
            url = center.base.replace("http", "ws") + "/v1/ws"
            processes = _spawn_subscribers(args, url, market.buyers[1], folder)
            await _wait_ready(processes)
            print(f"{args.subscribers} subscribers connected", flush=True)
            buyer = Api(http, center.base, market.buyers[0])
            total = args.warmup + args.seconds
            trades, started, behind = await drive_trades(buyer, args.rate, args.interval, total)
            await asyncio.sleep(1.0)  # the last messages reach the subscribers
        window = (int(started + args.warmup) + 1, int(started + total))
        result = _collect(processes, window)
    finally:
        for process in processes:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)
        center.stop()
    lags, span = result["lags"], window[1] - window[0]
    delivered = sum(lags.values())
    per_subscriber = delivered / args.subscribers / span if span > 0 else 0.0
    return (
        f"subscribers={args.subscribers} trades_per_sec={trades / total:.0f}"
        f" delivered_per_subscriber_per_sec={per_subscriber:.0f}"
        f" p50_ms={histogram_percentile(lags, 0.50):.1f}"
        f" p99_ms={histogram_percentile(lags, 0.99):.1f}"
        f" max_ms={histogram_percentile(lags, 1.0):.1f}"
        f" gaps={result['gaps']} closed={result['closed']} errors={result['errors'] or 0}"
        f" driver_behind_ms={behind * 1000:.0f} window_s={span} interval_s={args.interval}"
        f" book={args.book} log_level={args.log_level}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="WebSocket connections")
    parser.add_argument("--processes", type=int, default=2, help="subscriber processes")
    parser.add_argument("--rate", type=int, default=1000, help="trades per second")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between calls")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--book", action="store_true", help="subscribe to the book too")
    parser.add_argument("--log-level", default="INFO", help="the center's EXCHANGE_LOG_LEVEL")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    parser.add_argument("--subscriber-of", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    with scratch_folder("bench-fanout-", keep=args.keep) as folder:
        line = await run(args, folder)
    print(line)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.subscriber_of:
        url, key, count = arguments.subscriber_of
        asyncio.run(run_subscribers(url, key, int(count), arguments.book))
    else:
        asyncio.run(main(arguments))
