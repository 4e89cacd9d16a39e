"""Participants (companies), their roles and API keys."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import Code, Id, Name, PageQuery, Struct


class Role(enum.StrEnum):
    BUYER = "buyer"
    SUPPLIER = "supplier"
    OPERATOR = "operator"
    NODE = "node"
    BANK = "bank"


class ParticipantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 ()-]{5,32}$")]
RegistrationNumber = Annotated[str, msgspec.Meta(min_length=2, max_length=64)]
Roles = Annotated[
    list[Role],
    msgspec.Meta(
        min_length=1,
        max_length=5,
        description="Each role at most once",
        extra_json_schema={"uniqueItems": True},
    ),
]
KeyLabel = Annotated[str, msgspec.Meta(max_length=100)]


def _check_roles(roles: list[Role]) -> None:
    if len(set(roles)) != len(roles):
        raise ValueError("roles must not repeat")


class Contact(Struct, frozen=True, kw_only=True):
    name: Name
    email: Email
    phone: Phone | None = None


class CreateParticipant(Struct, frozen=True, kw_only=True):
    legal_name: Name
    registration_number: RegistrationNumber
    contact: Contact
    home_region: Code | None = None
    roles: Roles
    key_label: KeyLabel = ""

    def __post_init__(self) -> None:
        _check_roles(self.roles)


class UpdateParticipant(Struct, frozen=True, kw_only=True):
    legal_name: Name | msgspec.UnsetType = msgspec.UNSET
    contact: Contact | msgspec.UnsetType = msgspec.UNSET
    home_region: Code | msgspec.UnsetType | None = msgspec.UNSET
    roles: Roles | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        if self.roles is not msgspec.UNSET:
            _check_roles(self.roles)


class Participant(Struct, frozen=True, kw_only=True):
    id: int
    legal_name: str
    registration_number: str
    contact: Contact
    home_region: str | None
    roles: list[Role]
    status: ParticipantStatus
    created_at: datetime
    updated_at: datetime
    # where its withdrawals go; shown to the participant itself and to operators only
    bank_account: str | None = None
    # 0 to 100 from its record (GET /v1/participants/{id}/credit), in the participant
    # directory (GET /v1/participants, /v1/participants/{id}); null there without a record
    credit_score: int | None = None


class ParticipantQuery(PageQuery, frozen=True, kw_only=True):
    status: ParticipantStatus | None = None
    role: Role | None = None


class IssueKey(Struct, frozen=True, kw_only=True):
    label: KeyLabel = ""
    replaces_key_id: Id | None = None


class IssuedKey(Struct, frozen=True, kw_only=True):
    """A new API key. `key` is shown only in this response; the center keeps only its hash."""

    id: int
    key: str
    prefix: str
    label: str
    created_at: datetime


class ApiKeyInfo(Struct, frozen=True, kw_only=True):
    id: int
    prefix: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class ParticipantCreated(Struct, frozen=True, kw_only=True):
    participant: Participant
    api_key: IssuedKey


class Me(Struct, frozen=True, kw_only=True):
    participant: Participant
    key_id: int
