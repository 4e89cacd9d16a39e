"""Wire types shared by every resource: problems, pages, limits."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec

T = TypeVar("T")

Id = Annotated[int, msgspec.Meta(ge=1, le=(1 << 63) - 1, description="Numeric identifier")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Code = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Z0-9][A-Z0-9_-]{0,31}$",
        description="Upper-case code: letters, digits, '-' and '_', at most 32 characters",
    ),
]
DecimalText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,18}(\.[0-9]{1,18})?$",
        description='Exact non-negative decimal number as a string, e.g. "4125.50"',
        examples=["4125.50"],
    ),
]
Limit = Annotated[int, msgspec.Meta(ge=1, le=500)]
# PostgreSQL text cannot hold U+0000: free text that is stored must not contain it
NO_NUL = r"^[^\x00]*$"


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base for wire messages: immutable, keyword-only, strict about unknown fields."""


class FieldError(Struct, frozen=True, kw_only=True):
    path: str
    message: str


class Problem(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details, with a stable machine-readable `code`."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class Page(Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a list; pass `next_cursor` as `cursor` to get the next one."""

    data: list[T]
    next_cursor: str | None
    has_next: bool


class PageQuery(Struct, frozen=True, kw_only=True):
    cursor: str | None = None
    limit: Limit = 100


class Health(Struct, frozen=True, kw_only=True):
    status: str


class Readiness(Struct, frozen=True, kw_only=True):
    status: str
    checks: dict[str, str]
