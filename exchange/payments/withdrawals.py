"""Withdrawals: the bank's answers to the payouts the center ordered.

This is the smallest version, so that bank notifications work on their own: the withdrawals
flow (docs/payments.md, "Withdrawal") replaces it and keeps `apply_payout`'s signature.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exchange.db import Conn
from exchange.payments.notices import Notices
from settlement.bank.messages import Notification


async def apply_payout(
    conn: Conn, notification: Notification, notices: Notices, now: datetime
) -> dict[str, Any]:
    """Apply a payout notification (settled, rejected, returned) to its withdrawal, in the
    caller's transaction; the answer is stored as the notification's outcome."""
    found = await conn.fetchval(
        "SELECT id FROM withdrawals WHERE end_to_end_id = $1", notification.end_to_end_id
    )
    if found is None:
        return {"result": "unknown_withdrawal"}
    return {"result": "not_applied", "withdrawal_id": found}
