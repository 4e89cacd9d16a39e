"""Operator alerts: what a person must look at (no node for a task, a silent node, a failed
task, wrong delivery codes). One open alert per kind and subject: raising it again while it is
open changes nothing (the unique index `alerts_open` decides, also between several centers)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec
import structlog

from exchange.db import Conn, Queryable
from exchange.delivery.errors import UnknownAlertError
from exchange.messages.delivery import Alert, AlertKind

log = structlog.get_logger("exchange.delivery.alerts")
_COLUMNS = "id, kind, subject, message, detail, raised_at, acknowledged_by, acknowledged_at"


def _alert(row: asyncpg.Record) -> Alert:
    detail = msgspec.json.decode(row["detail"], type=dict[str, str])
    return Alert(
        id=row["id"],
        kind=AlertKind(row["kind"]),
        subject=row["subject"],
        message=row["message"],
        detail=detail,
        raised_at=row["raised_at"],
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
    )


async def raise_alert(
    conn: Conn,
    kind: AlertKind,
    subject: str,
    message: str,
    now: datetime,
    detail: dict[str, str] | None = None,
) -> int | None:
    """Raise an alert unless one of this kind and subject is open; its id, or None."""
    raised = await conn.fetchval(
        """INSERT INTO alerts (kind, subject, message, detail, raised_at)
            VALUES ($1, $2, $3, $4::jsonb, $5)
            ON CONFLICT (kind, subject) WHERE acknowledged_at IS NULL DO NOTHING
            RETURNING id""",
        str(kind),
        subject,
        message,
        msgspec.json.encode(detail or {}).decode(),
        now,
    )
    if raised is not None:
        log.warning("operator alert", kind=str(kind), subject=subject, message=message)
    return int(raised) if raised is not None else None


async def list_alerts(
    conn: Queryable, include_acknowledged: bool, before: int | None, limit: int
) -> list[Alert]:
    """Alerts newest first (open ones only unless `include_acknowledged`)."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM alerts
             WHERE ($1 OR acknowledged_at IS NULL) AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3""",
        include_acknowledged,
        before,
        limit,
    )
    return [_alert(row) for row in rows]


async def acknowledge(conn: Conn, alert_id: int, operator_id: int, now: datetime) -> Alert:
    """Acknowledge an alert (again: unchanged). A new one of its kind and subject may follow."""
    row = await conn.fetchrow(
        f"""UPDATE alerts SET acknowledged_by = coalesce(acknowledged_by, $2),
                   acknowledged_at = coalesce(acknowledged_at, $3)
             WHERE id = $1 RETURNING {_COLUMNS}""",
        alert_id,
        operator_id,
        now,
    )
    if row is None:
        raise UnknownAlertError(f"alert {alert_id} does not exist")
    return _alert(row)
