"""The answers to a committed batch: each submission's outcome, and what market information
publishes."""

from __future__ import annotations

import asyncpg

from exchange.market.feed import CommittedBatch
from exchange.orders.projection import Projection
from exchange.orders.submission import Batch, Changed, Outcome, Placed, Refused
from exchange.orders.views import fills_of, order_from_new, order_from_row, public_trade
from exchange.reference import CommoditySpec
from matching import AmendOrder, CancelOrder, PlaceOrder


def answer(
    spec: CommoditySpec,
    sequence: int,
    batch: Batch,
    projection: Projection,
    changed_rows: list[asyncpg.Record],
) -> CommittedBatch:
    """Settle every submission of a committed batch with its outcome; return what market
    information publishes of it (the book is at journal `sequence` after the batch)."""
    new_views = {oid: order_from_new(spec, new) for oid, new in projection.new.items()}
    changed_views = {row["id"]: order_from_row(spec, row) for row in changed_rows}
    for sub, command in batch.commands:
        if isinstance(command, PlaceOrder):
            outcome: Outcome = Placed(new_views[command.order_id])
        elif command.sequence in projection.rejections:
            outcome = Refused(projection.rejections[command.sequence])
        elif isinstance(command, CancelOrder | AmendOrder):
            view = changed_views.get(command.order_id) or new_views.get(command.order_id)
            outcome = Changed(view)
        else:
            outcome = Changed(None)
        batch.outcomes.append((sub, outcome))
    for sub, outcome in batch.outcomes:
        if sub.future is not None and not sub.future.done():
            sub.future.set_result(outcome)
    return CommittedBatch(
        sequence=sequence,
        levels=projection.level_updates(),
        trades=[public_trade(spec, trade) for trade in projection.trades],
        orders=[(projection.new[oid].participant_id, view) for oid, view in new_views.items()]
        + [(row["participant_id"], changed_views[row["id"]]) for row in changed_rows],
        fills=[fill for trade in projection.trades for fill in fills_of(spec, trade)],
    )
