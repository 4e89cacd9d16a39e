"""A node's events on a delivery task: the task's state machine (docs/delivery.md, "Node API").

Each event is one transaction: the contract row is locked first (as every flow that moves a
contract does), then the task row; the event is checked against the task's status (409
otherwise, changing nothing), applied, written to the timeline and the audit trail, and the
contract moved on through `lifecycle.transition` where the design says so. Notices for the
WebSocket are collected and published by the caller once the transaction has committed.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from exchange.audit import audit
from exchange.contracts import lifecycle
from exchange.contracts.terms import parse
from exchange.db import Conn
from exchange.delivery import alerts
from exchange.delivery.errors import InvalidTaskTransitionError, UnknownTaskError
from exchange.delivery.offers import RoutingRules, end_offer, offer_next
from exchange.delivery.views import TaskNotices, record, task_row
from exchange.errors import invalid_field
from exchange.messages.contracts import Contract, ContractStatus
from exchange.messages.delivery import AlertKind, EventType, TaskEvent
from exchange.units import QUANTITY_SCALE, UnitsError, parse_scaled

WRONG_CODES_ALERT = 3  # wrong delivery codes of one task that alert the operators
FROM: dict[EventType, frozenset[str]] = {
    EventType.ACCEPTED: frozenset({"assigned"}),
    EventType.REJECTED: frozenset({"assigned"}),
    EventType.PICKED_UP: frozenset({"accepted"}),
    EventType.IN_TRANSIT: frozenset({"picked_up", "in_transit"}),
    EventType.SHORTAGE: frozenset({"accepted", "picked_up", "in_transit"}),
    EventType.DELIVERED: frozenset({"picked_up", "in_transit"}),
    EventType.FAILED: frozenset({"accepted", "picked_up", "in_transit"}),
}
_SIMPLE = {EventType.PICKED_UP: "picked_up", EventType.IN_TRANSIT: "in_transit"}


@dataclass(slots=True)
class EventResult:
    """What an event did: the task now, contracts that changed state, and whether the
    delivery code was wrong (counted and committed; the caller answers 422)."""

    row: asyncpg.Record
    contracts: list[Contract] = field(default_factory=list)
    wrong_code: bool = False


@dataclass(frozen=True, slots=True)
class NodeCall:
    """The node reporting, and where it reports from."""

    participant_id: int
    request_id: str | None
    now: datetime
    rules: RoutingRules
    connected: Collection[int]


async def apply_event(
    conn: Conn, task_id: int, call: NodeCall, event: TaskEvent, notices: TaskNotices
) -> EventResult:
    """Apply the node's event to the task (another node's task: 404)."""
    before = await task_row(conn, task_id)
    _check_node(before, call)
    contract = await conn.fetchrow(
        "SELECT status, terms FROM contracts WHERE commodity_id = $1 AND id = $2 FOR UPDATE",
        before["commodity_id"],
        before["contract_id"],
    )
    assert contract is not None
    row = await task_row(conn, task_id, lock=True)
    _check_node(row, call)
    _check_transition(row, event, call.now)
    result = await _apply(conn, row, contract, call, event, notices)
    detail = {k: v for k, v in _detail(event).items() if k != "delivery_code"}
    detail["wrong_code"] = str(result.wrong_code).lower()
    await audit(conn, call.participant_id, f"delivery_task.{event.type}", f"task:{task_id}",
                detail, call.request_id)  # fmt: skip
    return result


def _check_node(row: asyncpg.Record, call: NodeCall) -> None:
    if row["node_participant"] != call.participant_id:
        raise UnknownTaskError(f"delivery task {row['id']} does not exist")


def _check_transition(row: asyncpg.Record, event: EventType | TaskEvent, now: datetime) -> None:
    kind = event.type if isinstance(event, TaskEvent) else event
    status = row["status"]
    if status not in FROM[kind]:
        allowed = sorted(e for e, sources in FROM.items() if status in sources)
        raise InvalidTaskTransitionError(
            f"task {row['id']} is {status}: {kind} cannot follow"
            + (f" (next: {', '.join(allowed)})" if allowed else " (it is closed)")
        )
    expires = row["offer_expires_at"]
    if status == "assigned" and expires is not None and now > expires:
        raise InvalidTaskTransitionError(f"the offer of task {row['id']} expired at {expires}")


def _detail(event: TaskEvent) -> dict[str, str]:
    fields = ("reason", "location", "available_quantity", "delivered_quantity",
              "receiver_name", "delivery_code", "proof_sha256")  # fmt: skip
    return {name: getattr(event, name) for name in fields if getattr(event, name) is not None}


def _quantity(text: str, field_name: str, most: int) -> int:
    """A quantity above zero and at most `most` (micro units), else 422."""
    try:
        micro = parse_scaled(text, QUANTITY_SCALE)
    except UnitsError as exc:
        raise invalid_field("INVALID_QUANTITY", field_name, str(exc)) from None
    if not 0 < micro <= most:
        raise invalid_field(
            "INVALID_QUANTITY", field_name, f"{text} is not above 0 and within the task"
        )
    return micro


async def _apply(
    conn: Conn,
    row: asyncpg.Record,
    contract: asyncpg.Record,
    call: NodeCall,
    event: TaskEvent,
    notices: TaskNotices,
) -> EventResult:
    kind = event.type
    if kind is EventType.ACCEPTED:
        return await _accepted(conn, row, contract, call, notices)
    if kind in (EventType.REJECTED, EventType.FAILED):
        return await _given_up(conn, row, call, event, notices)
    if kind is EventType.DELIVERED:
        return await _delivered(conn, row, contract, call, event, notices)
    changes: dict[str, object] = {}
    if kind is EventType.SHORTAGE:
        assert event.available_quantity is not None
        most = row["quantity_micro"] - 1  # all of it is no shortage
        changes["available_micro"] = _quantity(event.available_quantity, "available_quantity",
                                               most)  # fmt: skip
    else:
        changes["status"] = _SIMPLE[kind]
    return EventResult(await _update(conn, row, call, event, changes, notices))


async def _update(
    conn: Conn,
    row: asyncpg.Record,
    call: NodeCall,
    event: TaskEvent,
    changes: dict[str, object],
    notices: TaskNotices,
) -> asyncpg.Record:
    columns = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=3))
    await conn.execute(
        f"UPDATE delivery_tasks SET updated_at = $2, {columns} WHERE id = $1",
        row["id"],
        call.now,
        *changes.values(),
    )
    detail = {k: v for k, v in _detail(event).items() if k != "delivery_code"}
    await record(conn, row["id"], str(event.type), row["node_id"], call.now, detail)
    changed = await task_row(conn, row["id"])
    notices.add(str(event.type), changed, [call.participant_id])
    return changed


async def _accepted(
    conn: Conn,
    row: asyncpg.Record,
    contract: asyncpg.Record,
    call: NodeCall,
    notices: TaskNotices,
) -> EventResult:
    await end_offer(conn, row["id"], row["node_id"], "accepted")
    event = TaskEvent(type=EventType.ACCEPTED)
    changed = await _update(conn, row, call, event,
                            {"status": "accepted", "offer_expires_at": None}, notices)  # fmt: skip
    result = EventResult(changed)
    if contract["status"] == ContractStatus.FUNDED:
        why = f"node {row['node_code']} accepted delivery task {row['id']}"
        moved = await lifecycle.transition(
            conn, row["contract_id"], ContractStatus.IN_DELIVERY, call.participant_id, why, call.now
        )
        result.contracts.append(moved)
    return result


async def _given_up(
    conn: Conn, row: asyncpg.Record, call: NodeCall, event: TaskEvent, notices: TaskNotices
) -> EventResult:
    """Rejected (an offer) or failed (a task it had accepted): the task goes to the next node."""
    if event.type is EventType.REJECTED:
        await end_offer(conn, row["id"], row["node_id"], "rejected", event.reason)
    else:
        await alerts.raise_alert(
            conn, AlertKind.TASK_FAILED, f"task:{row['id']}",
            f"node {row['node_code']} failed delivery task {row['id']}: {event.reason}",
            call.now, {"task_id": str(row["id"]), "node": row["node_code"]},
        )  # fmt: skip
    await record(conn, row["id"], str(event.type), row["node_id"], call.now,
                 {"reason": event.reason or ""})  # fmt: skip
    notices.add(str(event.type), row, [call.participant_id])
    changed = await offer_next(conn, row, call.now, call.rules, call.connected, notices)
    return EventResult(changed)


async def _delivered(
    conn: Conn,
    row: asyncpg.Record,
    contract: asyncpg.Record,
    call: NodeCall,
    event: TaskEvent,
    notices: TaskNotices,
) -> EventResult:
    assert event.delivery_code is not None
    assert event.delivered_quantity is not None
    if not hmac.compare_digest(event.delivery_code, row["delivery_code"]):
        return await _wrong_code(conn, row, call)
    most = row["available_micro"] or row["quantity_micro"]
    delivered = _quantity(event.delivered_quantity, "delivered_quantity", most)
    changes = {
        "status": "delivered",
        "delivered_micro": delivered,
        "delivered_at": call.now,
        "receiver_name": event.receiver_name,
        "proof_sha256": event.proof_sha256,
    }
    result = EventResult(await _update(conn, row, call, event, changes, notices))
    window = timedelta(days=parse(contract["terms"]).breach.claim_window_days)
    await conn.execute(
        """UPDATE contracts SET delivered_at = $3, claim_window_until = $4,
                  delivered_quantity_micro = CASE WHEN $6 > 1
                      THEN coalesce(delivered_quantity_micro, 0) + $5 ELSE $5 END
            WHERE commodity_id = $1 AND id = $2""",
        row["commodity_id"], row["contract_id"], call.now, call.now + window, delivered,
        row["attempt"],
    )  # fmt: skip
    if contract["status"] == ContractStatus.IN_DELIVERY:
        why = f"delivery task {row['id']} delivered by node {row['node_code']}"
        moved = await lifecycle.transition(
            conn, row["contract_id"], ContractStatus.DELIVERED, call.participant_id, why, call.now
        )
        result.contracts.append(moved)
    return result


async def _wrong_code(conn: Conn, row: asyncpg.Record, call: NodeCall) -> EventResult:
    """Count the wrong code (this commits: the caller answers 422 afterwards)."""
    wrong = await conn.fetchval(
        "UPDATE delivery_tasks SET wrong_codes = wrong_codes + 1, updated_at = $2"
        " WHERE id = $1 RETURNING wrong_codes",
        row["id"],
        call.now,
    )
    await record(conn, row["id"], "wrong_code", row["node_id"], call.now, {"count": str(wrong)})
    if wrong >= WRONG_CODES_ALERT:
        await alerts.raise_alert(
            conn, AlertKind.WRONG_CODES, f"task:{row['id']}",
            f"node {row['node_code']} gave {wrong} wrong delivery codes for task {row['id']}",
            call.now, {"task_id": str(row["id"]), "node": row["node_code"],
                       "wrong_codes": str(wrong)},
        )  # fmt: skip
    return EventResult(await task_row(conn, row["id"]), wrong_code=True)
