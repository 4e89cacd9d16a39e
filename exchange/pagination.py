"""Keyset pagination: opaque cursors and pages, for every list of the API."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import msgspec

from exchange.bounds import in_time_range, is_text
from exchange.errors import BadRequestError
from exchange.messages.common import Page

CursorT = TypeVar("CursorT", int, str)
RowT = TypeVar("RowT")
_ASCII_ID = re.compile(r"[0-9]{1,18}")  # fullmatch: "\d" and "$" let through more


def encode_cursor(value: int | str) -> str:
    """An opaque cursor for keyset pagination."""
    return base64.urlsafe_b64encode(msgspec.json.encode([value])).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type[CursorT]) -> CursorT | None:
    """The key a cursor from `encode_cursor` carries, or 400 for anything else."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = msgspec.json.decode(raw, type=tuple[kind])[0]  # type: ignore[valid-type]
    except (ValueError, msgspec.DecodeError):
        raise _bad_cursor() from None
    # only keys the database can compare: a bigint, or text without NUL
    if isinstance(value, int) and not -(1 << 63) <= value < 1 << 63:
        raise _bad_cursor()
    if isinstance(value, str) and not is_text(value):
        raise _bad_cursor()
    return value


def _bad_cursor() -> BadRequestError:
    return BadRequestError("the cursor is not one this API gave out", code="BAD_CURSOR")


def decode_time_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (time, id) key of a cursor made by `time_page_of`."""
    text = decode_cursor(cursor, str)
    if text is None:
        return None
    at, _, key = text.partition("|")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise _bad_cursor() from None
    if moment.tzinfo is None or not _ASCII_ID.fullmatch(key) or not in_time_range(moment):
        raise _bad_cursor()
    return moment, int(key)


def time_page_of(
    rows: list[RowT], limit: int, key: Callable[[RowT], tuple[datetime, int]]
) -> Page[RowT]:
    """A page of rows ordered newest first by (time, id), from `limit + 1` fetched rows."""
    return page_of(rows, limit, lambda row: "|".join((key(row)[0].isoformat(), str(key(row)[1]))))


def page_of(rows: list[RowT], limit: int, key: Callable[[RowT], int | str]) -> Page[RowT]:
    """A page from `limit + 1` fetched rows: the extra row only tells that more exist."""
    has_next = len(rows) > limit
    rows = rows[:limit]
    return Page(
        data=rows, next_cursor=encode_cursor(key(rows[-1])) if has_next else None, has_next=has_next
    )
