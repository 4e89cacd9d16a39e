"""Delivery on the wire: nodes, lanes, tasks and their events, alerts (docs/delivery.md)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import NO_NUL, Code, DecimalText, Name, PageQuery, Struct
from exchange.messages.market import ServerMessage
from exchange.messages.participants import Contact, IssuedKey

Regions = Annotated[
    list[Code],
    msgspec.Meta(min_length=1, max_length=100, description="Region codes, each at most once"),
]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=1_000_000, description="Tasks a day")]
TransitDays = Annotated[int, msgspec.Meta(ge=0, le=365)]
Note = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=NO_NUL)]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", description="SHA-256, hex")]
DeliveryCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]


def _unique(items: list[str], what: str) -> None:
    if len(set(items)) != len(items):
        raise ValueError(f"{what} must not repeat")


class NodeStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class RegisterNode(Struct, frozen=True, kw_only=True):
    code: Code
    name: Name
    regions: Regions
    daily_capacity: Capacity
    contact: Contact | None = None  # the node's desk; a placeholder address if not given

    def __post_init__(self) -> None:
        _unique(self.regions, "regions")


class UpdateNode(Struct, frozen=True, kw_only=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    regions: Regions | msgspec.UnsetType = msgspec.UNSET
    daily_capacity: Capacity | msgspec.UnsetType = msgspec.UNSET
    status: NodeStatus | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        if self.regions is not msgspec.UNSET:
            _unique(self.regions, "regions")


class Node(Struct, frozen=True, kw_only=True):
    code: str
    name: str
    regions: list[str]
    daily_capacity: int
    status: NodeStatus
    participant_id: int
    online: bool
    last_seen_at: datetime | None
    active_tasks: int  # assigned, accepted, picked up or in transit
    tasks_today: int  # offers of the clock's UTC day that are open or accepted
    created_at: datetime
    updated_at: datetime


class NodeRegistered(Struct, frozen=True, kw_only=True):
    """The node and its first API key (`key` shown only here)."""

    node: Node
    api_key: IssuedKey


class NodeList(Struct, frozen=True, kw_only=True):
    data: list[Node]


class LaneIn(Struct, frozen=True, kw_only=True):
    origin_region: Code
    destination_region: Code
    commodity: Code
    rate: DecimalText  # in the commodity's currency, per whole unit of the commodity
    transit_days: TransitDays


class PutLanes(Struct, frozen=True, kw_only=True):
    lanes: Annotated[list[LaneIn], msgspec.Meta(max_length=500)]


class Lane(Struct, frozen=True, kw_only=True):
    node: str
    origin_region: str
    destination_region: str
    commodity: str
    currency: str
    rate: str
    transit_days: int
    updated_at: datetime


class LaneList(Struct, frozen=True, kw_only=True):
    data: list[Lane]


class LaneQuery(Struct, frozen=True, kw_only=True):
    commodity: Code | None = None
    origin_region: Code | None = None
    destination_region: Code | None = None


class TaskStatus(enum.StrEnum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TimelineEntry(Struct, frozen=True, kw_only=True):
    kind: str  # created, offered, waiting, expired, withdrawn, accepted, rejected, ...
    node: str | None
    detail: dict[str, str]
    at: datetime


class DeliveryTask(Struct, frozen=True, kw_only=True):
    id: int
    contract_id: int
    commodity: str
    attempt: int
    status: TaskStatus
    node: str | None  # the node it is offered to or carried by
    buyer_id: int
    seller_id: int
    origin_region: str
    destination_region: str
    quantity: str
    window_start: datetime
    window_end: datetime
    offer_expires_at: datetime | None
    delivery_code: str | None  # the buyer's only: shown to nobody else
    wrong_codes: int
    available_quantity: str | None
    delivered_quantity: str | None
    receiver_name: str | None
    proof_sha256: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TaskDetail(Struct, frozen=True, kw_only=True):
    task: DeliveryTask
    timeline: list[TimelineEntry]


class TaskQuery(PageQuery, frozen=True, kw_only=True):
    status: TaskStatus | None = None


class EventType(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    SHORTAGE = "shortage"
    DELIVERED = "delivered"
    FAILED = "failed"


# the fields each event type takes (and needs); every other field must be left out
EVENT_FIELDS: dict[EventType, frozenset[str]] = {
    EventType.ACCEPTED: frozenset(),
    EventType.REJECTED: frozenset({"reason"}),
    EventType.PICKED_UP: frozenset(),
    EventType.IN_TRANSIT: frozenset({"location"}),
    EventType.SHORTAGE: frozenset({"available_quantity"}),
    EventType.DELIVERED: frozenset(
        {"delivered_quantity", "receiver_name", "delivery_code", "proof_sha256"}
    ),
    EventType.FAILED: frozenset({"reason"}),
}
_OPTIONAL = ("reason", "location", "available_quantity", "delivered_quantity",
             "receiver_name", "delivery_code", "proof_sha256")  # fmt: skip


class TaskEvent(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a node reports; `type` says which of the other fields it takes (all of them)."""

    type: EventType
    reason: Note | None = None
    location: Note | None = None
    available_quantity: DecimalText | None = None
    delivered_quantity: DecimalText | None = None
    receiver_name: Name | None = None
    delivery_code: DeliveryCode | None = None
    proof_sha256: Sha256 | None = None

    def __post_init__(self) -> None:
        wanted = EVENT_FIELDS[self.type]
        given = {name for name in _OPTIONAL if getattr(self, name) is not None}
        if wanted - given:
            raise ValueError(f"{self.type} needs {', '.join(sorted(wanted - given))}")
        if given - wanted:
            raise ValueError(f"{self.type} does not take {', '.join(sorted(given - wanted))}")


class AlertKind(enum.StrEnum):
    NO_NODE = "no_node"
    NODE_SILENT = "node_silent"
    TASK_FAILED = "task_failed"
    WRONG_CODES = "wrong_codes"


class Alert(Struct, frozen=True, kw_only=True):
    id: int
    kind: AlertKind
    subject: str  # "task:12", "node:NORTH"
    message: str
    detail: dict[str, str]
    raised_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None


class AlertQuery(PageQuery, frozen=True, kw_only=True):
    all: bool = False  # acknowledged ones too


# -- WebSocket ---------------------------------------------------------------------------------


class TasksSnapshot(ServerMessage, frozen=True, kw_only=True, tag="tasks_snapshot"):
    """The node's open tasks (offered to it or carried by it) as of `sequence`."""

    sequence: int
    tasks: list[DeliveryTask]


class TaskMessage(ServerMessage, frozen=True, kw_only=True, tag="task"):
    """One of the node's tasks was offered, changed or withdrawn (`event`)."""

    sequence: int
    event: str
    task: DeliveryTask


class DeliveryNotice(ServerMessage, frozen=True, kw_only=True, tag="delivery"):
    """A delivery task of the subscriber's contract changed (`event`, the timeline's kind)."""

    sequence: int
    event: str
    task: DeliveryTask
