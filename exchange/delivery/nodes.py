"""Regional distribution nodes and their freight lanes in PostgreSQL (docs/delivery.md).

A node is online while its `node` WebSocket is connected in some center (that center refreshes
`last_seen_at` on connect, on every message and at every routing sweep) or its last heartbeat is
younger than `node_silence_seconds`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import msgspec

from exchange import participants
from exchange.db import Conn, Queryable
from exchange.delivery.errors import DuplicateNodeError, UnknownNodeError
from exchange.errors import invalid_field
from exchange.messages.delivery import (
    Lane,
    LaneIn,
    LaneQuery,
    Node,
    NodeStatus,
    RegisterNode,
    UpdateNode,
)
from exchange.messages.participants import Contact, CreateParticipant, IssuedKey, Role
from exchange.units import UnitsError, currency_exponent, format_scaled, parse_scaled

MAX_RATE = 10**15  # minor units per unit: far beyond any freight rate, well inside bigint
_NODE = """
SELECT n.id, n.code, n.name, n.participant_id, n.daily_capacity, n.status, n.last_seen_at,
       n.created_at, n.updated_at,
       ARRAY(SELECT r.region_code FROM node_regions r WHERE r.node_id = n.id
              ORDER BY r.region_code) AS regions,
       (SELECT count(*) FROM delivery_tasks t WHERE t.node_id = n.id
           AND t.status IN ('assigned', 'accepted', 'picked_up', 'in_transit')) AS active_tasks,
       (SELECT count(*) FROM task_offers o WHERE o.node_id = n.id AND o.offered_at >= $1
           AND (o.outcome IS NULL OR o.outcome = 'accepted')) AS tasks_today
  FROM nodes n"""


def day_start(now: datetime) -> datetime:
    """The start of the UTC day of `now`: daily capacity counts from there."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Presence:
    """What decides whether a node is online: the time, the silence allowed, and the nodes
    (by participant) whose WebSocket is connected to this process."""

    now: datetime
    silence: timedelta
    connected: frozenset[int] = frozenset()

    def online(self, participant_id: int, last_seen_at: datetime | None) -> bool:
        if participant_id in self.connected:
            return True
        return last_seen_at is not None and last_seen_at > self.now - self.silence


def node_from_row(row: asyncpg.Record, presence: Presence) -> Node:
    return Node(
        code=row["code"],
        name=row["name"],
        regions=list(row["regions"]),
        daily_capacity=row["daily_capacity"],
        status=NodeStatus(row["status"]),
        participant_id=row["participant_id"],
        online=presence.online(row["participant_id"], row["last_seen_at"]),
        last_seen_at=row["last_seen_at"],
        active_tasks=row["active_tasks"],
        tasks_today=row["tasks_today"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def node_row(conn: Queryable, code: str, presence: Presence) -> asyncpg.Record:
    row = await conn.fetchrow(f"{_NODE} WHERE n.code = $2", day_start(presence.now), code)
    if row is None:
        raise UnknownNodeError(f"node {code!r} does not exist")
    return row  # type: ignore[no-any-return]


async def node_of_participant(conn: Queryable, participant_id: int) -> asyncpg.Record | None:
    """The node whose own participant this is (None: the participant is no node)."""
    return await conn.fetchrow(
        "SELECT id, code, participant_id FROM nodes WHERE participant_id = $1", participant_id
    )


async def get_node(conn: Queryable, code: str, presence: Presence) -> Node:
    return node_from_row(await node_row(conn, code, presence), presence)


async def list_nodes(conn: Queryable, presence: Presence) -> list[Node]:
    rows = await conn.fetch(f"{_NODE} ORDER BY n.code", day_start(presence.now))
    return [node_from_row(row, presence) for row in rows]


async def _check_regions(conn: Conn, regions: Iterable[str], field: str) -> None:
    wanted = set(regions)
    found = {r["code"] for r in await conn.fetch("SELECT code FROM regions WHERE code = ANY($1)",
                                                  sorted(wanted))}  # fmt: skip
    missing = sorted(wanted - found)
    if missing:
        raise invalid_field("UNKNOWN_REGION", field, f"no such region: {', '.join(missing)}")


async def _set_regions(conn: Conn, node_id: int, regions: list[str]) -> None:
    await conn.execute("DELETE FROM node_regions WHERE node_id = $1", node_id)
    await conn.execute(
        "INSERT INTO node_regions (node_id, region_code) SELECT $1, unnest($2::text[])",
        node_id,
        regions,
    )


async def register(conn: Conn, body: RegisterNode, presence: Presence) -> tuple[Node, IssuedKey]:
    """The node, its own participant (role `node`) and that participant's first key."""
    await _check_regions(conn, body.regions, "regions")
    if await conn.fetchval("SELECT 1 FROM nodes WHERE code = $1", body.code):
        raise DuplicateNodeError(f"node {body.code!r} exists")
    contact = body.contact or Contact(
        name=body.name, email=f"node-{body.code.lower()}@nodes.center.invalid"
    )
    participant = await participants.create_participant(
        conn,
        CreateParticipant(
            legal_name=body.name,
            registration_number=f"NODE-{body.code}",
            contact=contact,
            home_region=body.regions[0],
            roles=[Role.NODE],
        ),
    )
    key = await participants.issue_key(conn, participant.id, "node")
    try:
        node_id = await conn.fetchval(
            "INSERT INTO nodes (code, name, participant_id, daily_capacity, created_at,"
            " updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            body.code,
            body.name,
            participant.id,
            body.daily_capacity,
            presence.now,
        )
    except asyncpg.UniqueViolationError:  # registered at the same moment by another request
        raise DuplicateNodeError(f"node {body.code!r} exists") from None
    await _set_regions(conn, node_id, body.regions)
    return await get_node(conn, body.code, presence), key


async def update(conn: Conn, code: str, change: UpdateNode, presence: Presence) -> Node:
    row = await node_row(conn, code, presence)
    await conn.execute("SELECT 1 FROM nodes WHERE id = $1 FOR UPDATE", row["id"])
    if change.regions is not msgspec.UNSET:
        await _check_regions(conn, change.regions, "regions")
        await _set_regions(conn, row["id"], change.regions)
    await conn.execute(
        """UPDATE nodes SET name = coalesce($2, name), daily_capacity = coalesce($3,
                  daily_capacity), status = coalesce($4, status), updated_at = $5
            WHERE id = $1""",
        row["id"],
        None if change.name is msgspec.UNSET else change.name,
        None if change.daily_capacity is msgspec.UNSET else change.daily_capacity,
        None if change.status is msgspec.UNSET else str(change.status),
        presence.now,
    )
    if change.name is not msgspec.UNSET:
        await conn.execute(
            "UPDATE participants SET legal_name = $2, updated_at = now() WHERE id = $1",
            row["participant_id"],
            change.name,
        )
    return await get_node(conn, code, presence)


async def touch(conn: Queryable, participant_ids: Iterable[int], now: datetime) -> None:
    """The nodes of these participants were seen at `now` (never moves backwards)."""
    await conn.execute(
        "UPDATE nodes SET last_seen_at = $2 WHERE participant_id = ANY($1)"
        " AND (last_seen_at IS NULL OR last_seen_at < $2)",
        list(participant_ids),
        now,
    )


# -- lanes ----------------------------------------------------------------------------------

_LANES = """
SELECT n.code AS node, l.origin_region, l.destination_region, c.code AS commodity, c.currency,
       l.rate_minor, l.transit_days, l.updated_at
  FROM lanes l JOIN nodes n ON n.id = l.node_id JOIN commodities c ON c.id = l.commodity_id"""


def _lane(row: asyncpg.Record) -> Lane:
    return Lane(
        node=row["node"],
        origin_region=row["origin_region"],
        destination_region=row["destination_region"],
        commodity=row["commodity"],
        currency=row["currency"],
        rate=format_scaled(row["rate_minor"], currency_exponent(row["currency"])),
        transit_days=row["transit_days"],
        updated_at=row["updated_at"],
    )


async def _lane_values(conn: Conn, lanes: list[LaneIn]) -> list[tuple[str, str, int, int, int]]:
    commodities = {
        r["code"]: (r["id"], r["currency"])
        for r in await conn.fetch(
            "SELECT id, code, currency FROM commodities WHERE code = ANY($1)",
            sorted({lane.commodity for lane in lanes}),
        )
    }
    await _check_regions(
        conn, {r for lane in lanes for r in (lane.origin_region, lane.destination_region)}, "lanes"
    )
    values, seen = [], set()
    for i, lane in enumerate(lanes):
        if lane.commodity not in commodities:
            raise invalid_field(
                "UNKNOWN_COMMODITY", f"lanes[{i}].commodity", f"no commodity {lane.commodity!r}"
            )
        commodity_id, currency = commodities[lane.commodity]
        try:
            rate = parse_scaled(lane.rate, currency_exponent(currency))
            if rate >= MAX_RATE:
                raise UnitsError(f"{lane.rate!r} is too large")
        except UnitsError as exc:
            raise invalid_field("INVALID_AMOUNT", f"lanes[{i}].rate", str(exc)) from None
        key = (lane.origin_region, lane.destination_region, lane.commodity)
        if key in seen:
            raise invalid_field("DUPLICATE_LANE", f"lanes[{i}]", f"lane {key} is given twice")
        seen.add(key)
        values.append(
            (lane.origin_region, lane.destination_region, commodity_id, rate, lane.transit_days)
        )
    return values


async def put_lanes(conn: Conn, node_id: int, lanes: list[LaneIn], now: datetime) -> list[Lane]:
    """Replace the node's lanes with `lanes`."""
    values = await _lane_values(conn, lanes)
    await conn.execute("SELECT 1 FROM nodes WHERE id = $1 FOR UPDATE", node_id)
    await conn.execute("DELETE FROM lanes WHERE node_id = $1", node_id)
    await conn.executemany(
        "INSERT INTO lanes (node_id, origin_region, destination_region, commodity_id,"
        " rate_minor, transit_days, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(node_id, *value, now) for value in values],
    )
    rows = await conn.fetch(f"{_LANES} WHERE l.node_id = $1 ORDER BY 2, 3, 4", node_id)
    return [_lane(row) for row in rows]


async def list_lanes(conn: Queryable, query: LaneQuery) -> list[Lane]:
    """Every lane of every active node, filtered."""
    rows = await conn.fetch(
        f"""{_LANES}
             WHERE n.status = 'active' AND ($1::text IS NULL OR c.code = $1)
               AND ($2::text IS NULL OR l.origin_region = $2)
               AND ($3::text IS NULL OR l.destination_region = $3)
             ORDER BY c.code, l.origin_region, l.destination_region, l.rate_minor, n.code""",
        query.commodity,
        query.origin_region,
        query.destination_region,
    )
    return [_lane(row) for row in rows]
