"""What the storage and the engine can hold: checked at the edge, so no input fails deeper in.

PostgreSQL `bigint` columns hold prices (ticks), quantities (lots) and amounts (minor units);
the engine and the journal keep times as nanoseconds since 1970 in 64 bits (so before 2262).
Every client-given value is checked against these before it reaches a book's writer, and a
value outside them is a 422 naming the field (`OUT_OF_RANGE`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from exchange.errors import UnprocessableError

BIGINT_MAX = (1 << 63) - 1
# Times a client may give (expiry, market-data ranges, cursors): [EARLIEST, LATEST).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def out_of_range(field: str, message: str) -> UnprocessableError:
    """A 422 naming the field whose value the center cannot hold."""
    return UnprocessableError(
        f"{field}: {message}", code="OUT_OF_RANGE", field_errors=[(f"$.{field}", message)]
    )


def in_time_range(moment: datetime) -> bool:
    """Whether an aware time lies in [EARLIEST, LATEST)."""
    return EARLIEST <= moment < LATEST


def check_time(moment: datetime | None, field: str) -> None:
    """Refuse a time the center cannot hold (422 naming the field)."""
    if moment is not None and not in_time_range(moment):
        raise out_of_range(field, "must be from 1970-01-01T00:00:00Z up to 2200-01-01T00:00:00Z")


def check_date(day: date | None, field: str) -> None:
    """Refuse a date the center cannot hold (422 naming the field)."""
    if day is not None and not EARLIEST.date() <= day < LATEST.date():
        raise out_of_range(field, "must be from 1970-01-01 up to 2199-12-31")


def check_bigint(value: int, field: str, what: str = "the value") -> int:
    """Refuse an integer that does not fit a `bigint` column; returns it otherwise."""
    if not -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
        raise out_of_range(field, f"{what} is too large for the center to hold")
    return value


def is_text(text: str) -> bool:
    """Whether PostgreSQL can hold this string: valid UTF-8 (no lone surrogates), no NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
