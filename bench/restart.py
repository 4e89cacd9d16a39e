"""Restart with 1,000,000 resting orders: graceful (SIGTERM) and after a crash (SIGKILL).

    .venv/bin/python bench/restart.py                 # 1,000,000 orders
    .venv/bin/python bench/restart.py --orders 200000 # a quicker look

Starts the center (`python -m exchange serve`) as a child process on a fresh data folder (its
own embedded PostgreSQL), loads `--orders` resting orders that never cross (sells above 1000.00,
buys below, on `--levels` price levels a side) through `POST /v1/orders/batch`, 1,000 orders a
call, and reads the whole book (`GET /v1/markets/{c}/book`, every level).

Graceful restart: SIGTERM (the writer drains and snapshots the book on the way out), start
again, and time from the new process's start until `/readyz` answers 200; then read the book
again and check it equals the one before.

Crash restart: place `--tail` more resting orders (they reach the journal, not a snapshot),
SIGKILL the center, start again (the embedded PostgreSQL was left running; the new process
takes it over), time it until `/readyz` answers 200, and check the book again: this is recovery
from the last snapshot plus journal replay. Finally the center is stopped with SIGTERM, which
also stops its PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from _support import Api, Center, scratch_folder, set_up_market

from exchange.db.embedded import EmbeddedPostgres

COMMODITY = "BENCH-1"
MID_TICKS = 2000  # 1000.00 at a tick of 0.50


def _price(ticks: int) -> str:
    return f"{ticks // 2}.{'50' if ticks % 2 else '00'}"


def order(number: int, levels: int) -> dict[str, Any]:
    """The `number`th resting order: odd ones sell above the mid, even ones buy below it."""
    side = "sell" if number % 2 else "buy"
    distance = 1 + (number // 2) % levels
    ticks = MID_TICKS + distance if side == "sell" else MID_TICKS - distance
    return {
        "client_order_id": f"r{number}",
        "commodity": COMMODITY,
        "side": side,
        "price": _price(ticks),
        "quantity": str(1 + number % 7),
    }


async def load(
    http: aiohttp.ClientSession,
    base: str,
    keys: dict[str, str],
    numbers: range,
    levels: int,
    per_call: int,
    concurrency: int,
) -> float:
    """Place the orders `numbers` in batch calls, `concurrency` calls at a time; seconds taken."""
    apis = {side: Api(http, base, key) for side, key in keys.items()}
    calls = []
    for side, parity in (("buy", 0), ("sell", 1)):
        mine = [n for n in numbers if n % 2 == parity]
        calls += [(side, mine[i : i + per_call]) for i in range(0, len(mine), per_call)]
    calls.sort(key=lambda call: call[1][0])
    pending = iter(calls)
    done = 0
    started = time.monotonic()

    async def worker() -> None:
        nonlocal done
        for side, chunk in pending:
            orders = [order(n, levels) for n in chunk]
            reply = await apis[side].call("POST", "/v1/orders/batch", {"orders": orders})
            refused = [r for r in reply["results"] if r["status"] != 201]
            if refused:
                raise RuntimeError(f"orders refused: {refused[:3]}")
            done += len(orders)
            if done % 100_000 < len(orders):
                print(f"  loaded {done:,} orders", file=sys.stderr, flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - started


async def book(http: aiohttp.ClientSession, center: Center, key: str) -> dict[str, Any]:
    reply: dict[str, Any] = await Api(http, center.base, key).call(
        "GET", f"/v1/markets/{COMMODITY}/book"
    )
    return reply


def _same(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return (before["sequence"], before["bids"], before["asks"]) == (
        after["sequence"],
        after["bids"],
        after["asks"],
    )


def _open_lots(snapshot: dict[str, Any]) -> float:
    return sum(float(q) for _, q in snapshot["bids"]) + sum(float(q) for _, q in snapshot["asks"])


async def _start(folder: Path, http: aiohttp.ClientSession, log_level: str) -> tuple[Center, float]:
    center = Center(folder, log_level=log_level)
    try:
        return center, await center.wait_ready(http)
    except BaseException:
        center.stop()
        raise


def _postgres_running(folder: Path) -> bool:
    return EmbeddedPostgres(folder).server_pid() is not None


async def run(args: argparse.Namespace, folder: Path, http: aiohttp.ClientSession) -> str:
    center, first_ready = await _start(folder, http, args.log_level)
    try:
        market = await set_up_market(http, center.base, 1, 1, 1)
        keys = {"buy": market.buyers[0], "sell": market.suppliers[0]}
        print(f"first start ready in {first_ready:.2f} s; loading {args.orders:,}", flush=True)
        loading = await load(
            http, center.base, keys, range(args.orders), args.levels, args.per_call, args.calls
        )
        print(f"loaded in {loading:.1f} s = {args.orders / loading:,.0f} orders/s", flush=True)
        before = await book(http, center, keys["buy"])
    finally:
        stopping = time.monotonic()
        exit_code = center.stop(signal.SIGTERM)
        stop_seconds = time.monotonic() - stopping
    print(f"graceful stop (drain + snapshot) took {stop_seconds:.2f} s, exit code {exit_code}")

    center, graceful = await _start(folder, http, args.log_level)
    killed = False
    try:
        after = await book(http, center, keys["buy"])
        graceful_ok = _same(before, after)
        print(f"graceful restart: ready in {graceful:.2f} s; book equal: {graceful_ok}", flush=True)
        tail = range(args.orders, args.orders + args.tail)
        await load(http, center.base, keys, tail, args.levels, args.per_call, args.calls)
        before_crash = await book(http, center, keys["buy"])
        center.stop(signal.SIGKILL)
        killed = True
        center, crash = await _start(folder, http, args.log_level)
        killed = False
        after_crash = await book(http, center, keys["buy"])
        crash_ok = _same(before_crash, after_crash)
        print(f"crash restart: ready in {crash:.2f} s; book equal: {crash_ok}", flush=True)
    finally:
        if killed and _postgres_running(folder):
            # the killed center left its PostgreSQL running: a clean start and stop ends it
            center, _ = await _start(folder, http, args.log_level)
        center.stop(signal.SIGTERM)
    return (
        f"orders={args.orders} open_lots={_open_lots(before):.0f}"
        f" levels={len(before['bids']) + len(before['asks'])} load_s={loading:.1f}"
        f" graceful_ready_s={graceful:.2f} graceful_book_equal={graceful_ok}"
        f" crash_tail={args.tail} crash_ready_s={crash:.2f} crash_book_equal={crash_ok}"
    )


async def main(args: argparse.Namespace) -> None:
    with scratch_folder("bench-restart-", keep=args.keep) as folder:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
            line = await run(args, folder, http)
        if _postgres_running(folder):
            print("warning: PostgreSQL still running in", folder, file=sys.stderr)
    print(line)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="resting orders to load")
    parser.add_argument("--tail", type=int, default=50_000, help="orders placed before SIGKILL")
    parser.add_argument("--levels", type=int, default=1000, help="price levels per side")
    parser.add_argument("--per-call", type=int, default=1000, help="orders per batch call")
    parser.add_argument("--calls", type=int, default=2, help="batch calls in flight")
    parser.add_argument("--log-level", default="INFO", help="the center's EXCHANGE_LOG_LEVEL")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
