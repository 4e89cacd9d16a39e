"""The trading gate: which participants may not trade, as of the batch being written."""

from __future__ import annotations

from exchange.db import Conn
from exchange.messages.participants import ParticipantStatus

SUSPENDED_REASON = "participant_suspended"


async def move_gate(conn: Conn) -> None:
    """Tell every book that who may trade changed (a suspension or a reactivation).

    Call it first in the transaction that changes a participant's status: it waits for the
    batches in flight, and batches after it wait for this transaction and then see its change.
    """
    await conn.execute("SELECT trading_gate_move()")


class TradingGate:
    """One book's view of the suspended participants, checked in every batch."""

    def __init__(self) -> None:
        self._epoch = -1
        self.barred: frozenset[int] = frozenset()

    async def check(self, conn: Conn) -> frozenset[int]:
        """Lock the gate for this batch; return the participants barred since the last check."""
        epoch = await conn.fetchval("SELECT trading_gate_pass()")
        if epoch == self._epoch:
            return frozenset()
        rows = await conn.fetch(
            "SELECT id FROM participants WHERE status <> $1", str(ParticipantStatus.ACTIVE)
        )
        barred = frozenset(row[0] for row in rows)
        newly = barred - self.barred  # a fresh gate knows nobody: it sweeps them all
        self.barred, self._epoch = barred, epoch
        return newly


async def resting_orders(
    conn: Conn, commodity_id: int, participants: frozenset[int]
) -> list[tuple[int, int]]:
    """(order id, participant id) of the participants' open orders in a book, oldest first."""
    rows = await conn.fetch(
        """SELECT id, participant_id FROM orders
            WHERE commodity_id = $1 AND participant_id = ANY ($2::bigint[])
              AND status IN ('open', 'partially_filled')
            ORDER BY id""",
        commodity_id,
        list(participants),
    )
    return [(row[0], row[1]) for row in rows]
