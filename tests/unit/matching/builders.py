"""A small driver that numbers commands and keeps the events, for hand-written scenarios."""

from __future__ import annotations

import random
from typing import Any, TypeVar

from matching import (
    AmendOrder,
    Book,
    BookConfig,
    CancelOrder,
    Command,
    Event,
    ExpireOrders,
    HaltBook,
    PlaceOrder,
    ResumeBook,
)
from matching.types import (
    CommodityId,
    OrderId,
    ParticipantId,
    RegionId,
    SelfTradePrevention,
    Sequence,
    Side,
    TimeInForce,
    Timestamp,
)

E = TypeVar("E")

COMMODITY = CommodityId(7)
T0 = 1_700_000_000_000_000_000
BUY = Side.BUY
SELL = Side.SELL


class Driver:
    """Feeds one book numbered, timestamped commands and returns each command's events."""

    def __init__(self, book: Book | None = None, **config: int) -> None:
        self.book = book or Book(BookConfig(commodity=COMMODITY, **config))
        self.seq: int = self.book.sequence
        self.log: list[Event] = []

    def stamp(self) -> dict[str, Any]:
        """Return the next sequence number and its timestamp (1 µs apart)."""
        self.seq += 1
        return {
            "sequence": Sequence(self.seq),
            "timestamp": Timestamp(T0 + self.seq * 1000),
            "commodity": COMMODITY,
        }

    def run(self, command: Command) -> list[Event]:
        """Apply ``command`` and return its events."""
        out: list[Event] = []
        self.book.apply(command, out)
        self.log.extend(out)
        return out

    def place_command(
        self,
        order_id: int,
        side: Side,
        price: int,
        quantity: int,
        owner: int | None = None,
        **extra: Any,
    ) -> PlaceOrder:
        """Build a numbered PlaceOrder; the owner defaults to the order id (no self-trades)."""
        return PlaceOrder(
            **self.stamp(),
            order_id=OrderId(order_id),
            owner=ParticipantId(order_id if owner is None else owner),
            side=side,
            price=price,
            quantity=quantity,
            **extra,
        )

    def place(
        self,
        order_id: int,
        side: Side,
        price: int,
        quantity: int,
        owner: int | None = None,
        **extra: Any,
    ) -> list[Event]:
        """Place an order and return its events."""
        return self.run(self.place_command(order_id, side, price, quantity, owner, **extra))

    def cancel_command(self, order_id: int, owner: int | None = None) -> CancelOrder:
        """Build a numbered CancelOrder on behalf of ``owner`` (default: the order id)."""
        owner_id = ParticipantId(order_id if owner is None else owner)
        return CancelOrder(**self.stamp(), order_id=OrderId(order_id), owner=owner_id)

    def cancel(self, order_id: int, owner: int | None = None) -> list[Event]:
        """Cancel an order and return the events."""
        return self.run(self.cancel_command(order_id, owner))

    def amend_command(
        self,
        order_id: int,
        price: int | None = None,
        quantity: int | None = None,
        owner: int | None = None,
    ) -> AmendOrder:
        """Build a numbered AmendOrder of an order's price and/or open quantity."""
        owner_id = ParticipantId(order_id if owner is None else owner)
        return AmendOrder(
            **self.stamp(),
            order_id=OrderId(order_id),
            owner=owner_id,
            price=price,
            quantity=quantity,
        )

    def amend(
        self,
        order_id: int,
        price: int | None = None,
        quantity: int | None = None,
        owner: int | None = None,
    ) -> list[Event]:
        """Amend an order and return the events."""
        return self.run(self.amend_command(order_id, price, quantity, owner))

    def expire_command(self, now: int) -> ExpireOrders:
        """Build a numbered ExpireOrders carrying ``now`` (an absolute timestamp)."""
        stamp = self.stamp()
        stamp["timestamp"] = Timestamp(now)
        return ExpireOrders(**stamp)

    def expire(self, now: int) -> list[Event]:
        """Expire GTD orders due at ``now`` and return the events."""
        return self.run(self.expire_command(now))

    def halt_command(self) -> HaltBook:
        """Build a numbered HaltBook."""
        return HaltBook(**self.stamp())

    def resume_command(self) -> ResumeBook:
        """Build a numbered ResumeBook."""
        return ResumeBook(**self.stamp())

    def halt(self) -> list[Event]:
        """Halt the book."""
        return self.run(self.halt_command())

    def resume(self) -> list[Event]:
        """Resume the book."""
        return self.run(self.resume_command())


def kinds(events: list[Event]) -> list[str]:
    """Return the event class names, for compact assertions on event order."""
    return [type(event).__name__ for event in events]


def of_type(events: list[Event], kind: type[E]) -> list[E]:
    """Return the events of one kind."""
    return [event for event in events if isinstance(event, kind)]


def random_commands(seed: int, count: int) -> list[Command]:
    """Build a mixed command list: places of every kind, cancels, amends and expiries."""
    rnd = random.Random(seed)
    driver = Driver()
    commands: list[Command] = []
    for order_id in range(1, count + 1):
        roll = rnd.random()
        if roll < 0.15:
            commands.append(driver.cancel_command(rnd.randint(1, order_id)))
        elif roll < 0.25:
            target = rnd.randint(1, order_id)
            commands.append(
                driver.amend_command(target, price=rnd.randint(95, 105), quantity=rnd.randint(1, 9))
            )
        elif roll < 0.28:
            commands.append(driver.expire_command(T0 + order_id * 1000))
        else:
            tif = rnd.choice(list(TimeInForce))
            gtd = tif is TimeInForce.GTD
            commands.append(
                driver.place_command(
                    order_id,
                    rnd.choice([BUY, SELL]),
                    rnd.randint(95, 105),
                    rnd.randint(1, 9),
                    owner=rnd.randint(1, 4),
                    time_in_force=tif,
                    expires_at=T0 + (order_id + rnd.randint(1, 50)) * 1000 if gtd else None,
                    min_fill=rnd.choice([0, 0, 2, 5]),
                )
            )
    return commands


__all__ = [
    "BUY",
    "COMMODITY",
    "SELL",
    "T0",
    "Driver",
    "RegionId",
    "SelfTradePrevention",
    "TimeInForce",
    "kinds",
    "of_type",
    "random_commands",
]
