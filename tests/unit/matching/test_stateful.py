"""The engine against a simple reference book, step by step, with hypothesis."""

from __future__ import annotations

import msgspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from matching import (
    Book,
    Command,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    TradeExecuted,
)
from matching.snapshot import export_state, restore, snapshot
from matching.types import SelfTradePrevention
from tests.unit.matching.builders import BUY, SELL, T0, Driver, TimeInForce
from tests.unit.matching.reference import Outcome, ReferenceBook, RefOrder

ENCODER = msgspec.msgpack.Encoder()
PRICES = st.integers(min_value=97, max_value=103)
QUANTITIES = st.integers(min_value=1, max_value=12)
OWNERS = st.integers(min_value=1, max_value=3)


class BookAgainstReference(RuleBasedStateMachine):
    """Every command goes to both books; their outcomes and states must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.driver = Driver()
        self.reference = ReferenceBook()
        self.next_id = 1
        self.commands: list[Command] = []
        self.events: list[list[Event]] = []
        self.snapshot: tuple[bytes, int] | None = None
        self.placed = 0
        self.traded = 0
        self.cancelled = 0

    def apply(self, command: Command, expected: Outcome) -> None:
        events = self.driver.run(command)
        self.commands.append(command)
        self.events.append(events)
        trades = [
            (e.maker_order_id, e.taker_order_id, e.price, e.quantity)
            for e in events
            if isinstance(e, TradeExecuted)
        ]
        cancelled = [(e.order_id, e.quantity) for e in events if isinstance(e, OrderCancelled)]
        rejected = any(isinstance(e, OrderRejected) for e in events)
        assert (trades, cancelled, rejected) == (
            expected.trades,
            expected.cancelled,
            expected.rejected,
        )
        assert all(
            e.maker_owner != e.taker_owner for e in events if isinstance(e, TradeExecuted)
        ), "self-trade"
        self.placed += sum(e.quantity for e in events if isinstance(e, OrderAccepted))
        self.traded += sum(quantity for *_, quantity in trades)
        self.cancelled += sum(quantity for _, quantity in cancelled)

    @rule(
        is_buy=st.booleans(),
        price=PRICES,
        quantity=QUANTITIES,
        owner=OWNERS,
        tif=st.sampled_from(TimeInForce),
        min_fill=st.sampled_from([0, 0, 0, 3, 8]),
        stp=st.sampled_from(SelfTradePrevention),
        lifetime=st.integers(min_value=2, max_value=20),
    )
    def place(
        self,
        is_buy: bool,
        price: int,
        quantity: int,
        owner: int,
        tif: TimeInForce,
        min_fill: int,
        stp: SelfTradePrevention,
        lifetime: int,
    ) -> None:
        order_id = self.next_id
        self.next_id += 1
        min_fill = min(min_fill, quantity)
        command = self.driver.place_command(
            order_id,
            BUY if is_buy else SELL,
            price,
            quantity,
            owner=owner,
            time_in_force=tif,
            min_fill=min_fill,
            self_trade=stp,
            expires_at=(T0 + (self.driver.seq + lifetime) * 1000)
            if tif is TimeInForce.GTD
            else None,
        )
        expected = self.reference.place(
            RefOrder(
                order_id, owner, is_buy, price, quantity, min_fill, tif, command.expires_at, stp
            )
        )
        self.apply(command, expected)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order_id = data.draw(st.integers(min_value=1, max_value=self.next_id))
        order = self.reference.orders.get(order_id)
        owner = order.owner if order and data.draw(st.booleans()) else data.draw(OWNERS)
        self.apply(
            self.driver.cancel_command(order_id, owner), self.reference.cancel(order_id, owner)
        )

    @rule(data=st.data(), price=st.none() | PRICES, quantity=st.none() | QUANTITIES)
    def amend(self, data: st.DataObject, price: int | None, quantity: int | None) -> None:
        order_id = data.draw(st.integers(min_value=1, max_value=self.next_id))
        order = self.reference.orders.get(order_id)
        owner = order.owner if order else 1
        before = order.remaining if order else 0
        command = self.driver.amend_command(order_id, price, quantity, owner)
        expected = self.reference.amend(order_id, owner, price, quantity)
        self.apply(command, expected)
        if any(isinstance(e, OrderAmended) for e in self.events[-1]):
            self.placed += (before if quantity is None else quantity) - before

    @rule(ahead=st.integers(min_value=0, max_value=15))
    def expire(self, ahead: int) -> None:
        now = T0 + (self.driver.seq + ahead) * 1000
        self.apply(self.driver.expire_command(now), self.reference.expire(now))

    @rule(halt=st.booleans())
    def halt_or_resume(self, halt: bool) -> None:
        self.reference.halted = halt
        command = self.driver.halt_command() if halt else self.driver.resume_command()
        self.apply(command, Outcome())

    @precondition(lambda self: self.snapshot is None)
    @rule()
    def take_snapshot(self) -> None:
        self.snapshot = (snapshot(self.driver.book), len(self.commands))

    @invariant()
    def never_crossed(self) -> None:
        bid, ask = self.driver.book.best_bid(), self.driver.book.best_ask()
        assert bid is None or ask is None or bid < ask

    @invariant()
    def same_queues_as_reference(self) -> None:
        state = export_state(self.driver.book)
        for views, is_buy in ((state.bids, True), (state.asks, False)):
            ours = [(v.order_id, v.price, v.quantity) for v in views]
            theirs = [(o.order_id, o.price, o.remaining) for o in self.reference.side(is_buy)]
            assert ours == theirs

    @invariant()
    def quantity_is_conserved(self) -> None:
        resting = sum(o.remaining for o in self.reference.orders.values())
        assert self.placed == resting + 2 * self.traded + self.cancelled

    @invariant()
    def replay_from_snapshot_gives_the_same_events(self) -> None:
        if self.snapshot is None:
            return
        data, start = self.snapshot
        book: Book = restore(data)
        replayed: list[Event] = []
        book.apply_batch(self.commands[start:], replayed)
        original = [event for events in self.events[start:] for event in events]
        assert ENCODER.encode(replayed) == ENCODER.encode(original)


BookAgainstReference.TestCase.settings = settings(
    max_examples=300, stateful_step_count=50, deadline=None
)
TestBookAgainstReference = BookAgainstReference.TestCase
