"""Benchmark the matching engine on a reference stream, optionally against limit-order-book.

    python ../shared/bench/make_stream.py --orders 200000 --seed 42 > /tmp/s42.txt
    python bench/matching.py --stream /tmp/s42.txt --peer

The stream is parsed into engine commands before timing (the service gets commands already
decoded too). Each run applies the whole stream to a fresh book in batches, as the service's
writer task does, producing every event the service journals and publishes; the batch's event
list is cleared after each batch, as the service does once it has persisted them. The figure
printed is the best of --runs runs. Every order gets its own owner, since the stream has no
participants (and the peer has no self-trade prevention).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This script has the name of the package it measures: keep its own folder off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from matching import (  # noqa: E402
    Book,
    BookConfig,
    CancelOrder,
    Command,
    Event,
    PlaceOrder,
    TradeExecuted,
)
from matching.types import CommodityId, OrderId, ParticipantId, Sequence, Side, Timestamp  # noqa: E402

COMMODITY = CommodityId(1)
EPOCH_NS = 1_700_000_000_000_000_000

Op = tuple[bool, int, bool, int, int]  # (is_new, order_id, is_buy, price, quantity)


def read_stream(path: Path) -> list[Op]:
    """Parse ``new <id> <buy|sell> <price> <qty>`` and ``cancel <id>`` lines."""
    ops: list[Op] = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[0] == "new":
            ops.append((True, int(parts[1]), parts[2] == "buy", int(parts[3]), int(parts[4])))
        elif parts[0] == "cancel":
            ops.append((False, int(parts[1]), False, 0, 0))
    return ops


def to_commands(ops: list[Op]) -> list[Command]:
    """Turn stream lines into the commands the service would send the book."""
    commands: list[Command] = []
    for seq, (is_new, order_id, is_buy, price, quantity) in enumerate(ops, start=1):
        common = {
            "sequence": Sequence(seq),
            "timestamp": Timestamp(EPOCH_NS + seq * 1000),
            "commodity": COMMODITY,
            "order_id": OrderId(order_id),
            "owner": ParticipantId(order_id),
        }
        if is_new:
            side = Side.BUY if is_buy else Side.SELL
            commands.append(PlaceOrder(**common, side=side, price=price, quantity=quantity))
        else:
            commands.append(CancelOrder(**common))
    return commands


def run_engine(batches: list[list[Command]]) -> tuple[float, int]:
    """Apply all batches to a fresh book; return (seconds, traded quantity)."""
    book = Book(BookConfig(commodity=COMMODITY))
    out: list[Event] = []
    apply_batch = book.apply_batch
    clear = out.clear
    start = time.perf_counter()
    for batch in batches:
        apply_batch(batch, out)
        clear()
    elapsed = time.perf_counter() - start
    return elapsed, book.traded_quantity


def check_engine(commands: list[Command], traded: int) -> None:
    """Untimed: the traded total must equal the sum of the TradeExecuted events."""
    book = Book(BookConfig(commodity=COMMODITY))
    out: list[Event] = []
    book.apply_batch(commands, out)
    total = sum(event.quantity for event in out if isinstance(event, TradeExecuted))
    if total != traded or book.traded_quantity != traded:
        raise SystemExit(f"traded quantity mismatch: events {total}, counter {traded}")


def run_peer(ops: list[Op]) -> float:
    """Apply the stream to a fresh limit-order-book; return seconds."""
    from limit_order_book import LimitOrderBook

    lob = LimitOrderBook()
    buy: Callable[[int, int, int], None] = lob.limit_buy
    sell: Callable[[int, int, int], None] = lob.limit_sell
    cancel: Callable[[int], None] = lob.cancel
    has: Callable[[int], bool] = lob.has
    start = time.perf_counter()
    for is_new, order_id, is_buy, price, quantity in ops:
        if is_new:
            if is_buy:
                buy(order_id, quantity, price)
            else:
                sell(order_id, quantity, price)
        # The peer aborts the process on an unknown id, so it must ask first.
        elif has(order_id):
            cancel(order_id)
    return time.perf_counter() - start


def peer_traded(ops: list[Op]) -> int:
    """Untimed: derive the peer's traded total, which it does not report.

    Every traded lot leaves the book twice (maker and taker), so traded = (placed -
    cancelled - resting) / 2, with the cancelled volume measured around each cancel.
    """
    from limit_order_book import LimitOrderBook

    lob = LimitOrderBook()
    placed = cancelled = 0
    for is_new, order_id, is_buy, price, quantity in ops:
        if is_new:
            placed += quantity
            (lob.limit_buy if is_buy else lob.limit_sell)(order_id, quantity, price)
        elif lob.has(order_id):
            before = lob.volume()
            lob.cancel(order_id)
            cancelled += before - lob.volume()
    remaining = placed - cancelled - lob.volume()
    if remaining % 2:
        raise SystemExit("peer volumes do not add up")
    return int(remaining) // 2


def best(runs: int, once: Callable[[], float]) -> float:
    """Return the best wall time of ``runs`` runs, collecting garbage between runs."""
    times = []
    for _ in range(runs):
        gc.collect()
        times.append(once())
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1000, help="commands per writer batch")
    parser.add_argument("--peer", action="store_true", help="also run limit-order-book")
    args = parser.parse_args()

    ops = read_stream(args.stream)
    commands = to_commands(ops)
    batches = [commands[i : i + args.batch] for i in range(0, len(commands), args.batch)]
    n = len(commands)
    traded = run_engine(batches)[1]
    check_engine(commands, traded)
    ours = best(args.runs, lambda: run_engine(batches)[0])
    print(f"commands={n} commands_per_sec={n / ours:.0f} traded_quantity={traded}")
    if args.peer:
        theirs = best(args.runs, lambda: run_peer(ops))
        their_traded = peer_traded(ops)
        print(
            f"peer=limit-order-book commands={n} commands_per_sec={n / theirs:.0f} "
            f"traded_quantity={their_traded} ratio={theirs / ours:.2f} "
            f"same_traded_quantity={their_traded == traded}"
        )


if __name__ == "__main__":
    main()
