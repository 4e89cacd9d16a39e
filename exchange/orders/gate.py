"""The trading gate: who may trade which side, as of the batch being written."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from exchange.db import Conn
from exchange.messages.participants import ParticipantStatus, Role
from matching import AmendOrder, Book, Command, PlaceOrder
from matching.types import Side

SUSPENDED_REASON = "participant_suspended"
ROLE_REMOVED_REASON = "role_removed"  # a resting order's cancel: its side's role was removed
ROLE_REQUIRED_REASON = "role_required"  # a refused place or amend: the owner lacks the role

_ROLE_OF = {Side.BUY: str(Role.BUYER), Side.SELL: str(Role.SUPPLIER)}
_NOWHERE = {side: SUSPENDED_REASON for side in Side}


async def move_gate(conn: Conn, participant_id: int) -> None:
    """Tell every book that what a participant may trade changed (a suspension, a
    reactivation, its roles).

    Call it first in the transaction that changes the participant's status or roles: it waits
    for the batches in flight, and batches after it wait for this transaction and then see its
    change.
    """
    await conn.execute("SELECT trading_gate_move($1)", participant_id)


def _refusals(status: str, roles: Sequence[str]) -> dict[Side, str]:
    """Why a participant may not trade each side it may not trade (none: it trades both)."""
    if status != ParticipantStatus.ACTIVE:
        return _NOWHERE
    return {side: ROLE_REQUIRED_REASON for side, role in _ROLE_OF.items() if role not in roles}


class TradingGate:
    """One book's view of what the owners of its commands may trade, checked in every batch.

    It remembers the owners it has seen; a move of the gate makes it forget only the
    participants the move was for, so in steady state a batch asks the database nothing
    about its owners.
    """

    def __init__(self, commodity_id: int) -> None:
        self._commodity_id = commodity_id
        self._epoch: int | None = None  # a fresh gate starts from the book's recorded epoch
        self._refused: dict[int, dict[Side, str]] = {}

    async def check(self, conn: Conn) -> list[int]:
        """Lock the gate for this batch; return the participants it moved for since the last
        check (none: it did not move), having recorded the book's new epoch."""
        epoch = await conn.fetchval("SELECT trading_gate_pass()")
        if epoch == self._epoch:
            return []
        since = self._epoch
        if since is None:
            since = await conn.fetchval(
                "SELECT coalesce(max(epoch), 0) FROM book_gate WHERE commodity_id = $1",
                self._commodity_id,
            )
        moved = [
            row[0]
            for row in await conn.fetch(
                """SELECT DISTINCT participant_id FROM trading_gate_moves
                    WHERE epoch > $1 AND epoch <= $2 ORDER BY participant_id""",
                since,
                epoch,
            )
        ]
        await conn.execute(
            """INSERT INTO book_gate (commodity_id, epoch) VALUES ($1, $2)
               ON CONFLICT (commodity_id) DO UPDATE SET epoch = excluded.epoch""",
            self._commodity_id,
            epoch,
        )
        for participant in moved:
            self._refused.pop(participant, None)
        self._epoch = epoch
        return moved

    async def learn(self, conn: Conn, commands: Iterable[Command | None]) -> None:
        """Load what the owners of the orders and amends not seen since the gate moved may
        trade (after `check`, in the same transaction)."""
        unknown = {
            command.owner
            for command in commands
            if isinstance(command, PlaceOrder | AmendOrder) and command.owner not in self._refused
        }
        if not unknown:
            return
        rows = await conn.fetch(
            "SELECT id, status, roles FROM participants WHERE id = ANY ($1::bigint[])",
            list(unknown),
        )
        for owner in unknown:
            self._refused[owner] = _NOWHERE  # no such participant trades nothing
        for row in rows:
            self._refused[row[0]] = _refusals(row[1], row[2])

    def refusal(self, command: Command, book: Book) -> str | None:
        """Why the command's owner may not place or amend it (None: it may, or it is neither);
        its owner was learnt. An amend's side is the resting order's."""
        if isinstance(command, PlaceOrder):
            side = command.side
        elif isinstance(command, AmendOrder):
            resting = book.order(command.order_id)
            if resting is None:
                return None  # not open: the engine refuses it
            side = resting.side
        else:
            return None
        return self._refused[command.owner].get(side)


async def barred_orders(
    conn: Conn, commodity_id: int, participants: list[int]
) -> list[tuple[int, int, str]]:
    """(order id, owner, reason) of the participants' open orders in a book on a side they may
    no longer trade: suspended (reason participant_suspended) or without the side's role
    (role_removed); oldest first."""
    rows = await conn.fetch(
        """SELECT o.id, o.participant_id, p.status <> 'active' AS suspended
             FROM orders o JOIN participants p ON p.id = o.participant_id
            WHERE o.participant_id = ANY ($2::bigint[]) AND o.commodity_id = $1
              AND o.status IN ('open', 'partially_filled')
              AND (p.status <> 'active'
                   OR NOT (CASE o.side WHEN 'buy' THEN 'buyer' ELSE 'supplier' END)
                          = ANY (p.roles))
            ORDER BY o.id""",
        commodity_id,
        participants,
    )
    return [(row[0], row[1], SUSPENDED_REASON if row[2] else ROLE_REMOVED_REASON) for row in rows]
