"""Settings: read once from the environment into one typed struct."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import msgspec


class SettingsError(Exception):
    """A configuration value is missing or malformed; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the center needs to start, with defaults for a laptop."""

    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path(".exchange")
    bootstrap_operator_key: str | None = None
    log_level: str = "INFO"
    db_pool_size: int = 10
    shutdown_timeout: float = 10.0
    rate_limit_per_second: int = 2000
    rate_limit_burst: int = 4000
    max_keys_per_participant: int = 10
    auth_failures_per_second: int = 5
    auth_failure_burst: int = 50
    snapshot_every: int = 100_000
    contract_signing_key: str | None = None
    # the designated bank (docs/payments.md): where its API is, the key the center uses there,
    # the secret its notifications are signed with, and the center's account numbers there
    bank_url: str | None = None
    bank_api_key: str | None = None
    bank_secret: str | None = None
    bank_account_prefix: str = "CENTER-"
    # payment deadlines (docs/payments.md): reminders this many hours before a payment is due,
    # and how often the deadline sweep runs (0: not in this process)
    payment_reminder_hours: tuple[int, ...] = (24, 1)
    payment_sweep_seconds: float = 1.0
    # delivery routing (docs/delivery.md): how long an offer to a node stands, how long a node
    # may be silent and still count online, how often the routing sweep runs (0: not here)
    node_offer_seconds: int = 300
    node_silence_seconds: int = 60
    delivery_sweep_seconds: float = 1.0
    # the outcome sweep (docs/delivery.md): auto-acceptance past the claim window, pro rata
    # for a short delivery left without a choice (0: not in this process)
    outcome_sweep_seconds: float = 1.0
    # the RFQ closing sweep (docs/negotiation.md): auto-award and expiry (0: not in this process)
    rfq_sweep_seconds: float = 1.0


_LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR"})

# environment variable -> settings field
_VARIABLES: dict[str, str] = {
    "DATABASE_URL": "database_url",
    "EXCHANGE_HOST": "host",
    "EXCHANGE_PORT": "port",
    "EXCHANGE_DATA_DIR": "data_dir",
    "EXCHANGE_BOOTSTRAP_OPERATOR_KEY": "bootstrap_operator_key",
    "EXCHANGE_LOG_LEVEL": "log_level",
    "EXCHANGE_DB_POOL_SIZE": "db_pool_size",
    "EXCHANGE_SHUTDOWN_TIMEOUT": "shutdown_timeout",
    "EXCHANGE_RATE_LIMIT_PER_SECOND": "rate_limit_per_second",
    "EXCHANGE_RATE_LIMIT_BURST": "rate_limit_burst",
    "EXCHANGE_MAX_KEYS_PER_PARTICIPANT": "max_keys_per_participant",
    "EXCHANGE_AUTH_FAILURES_PER_SECOND": "auth_failures_per_second",
    "EXCHANGE_AUTH_FAILURE_BURST": "auth_failure_burst",
    "EXCHANGE_SNAPSHOT_EVERY": "snapshot_every",
    "EXCHANGE_CONTRACT_SIGNING_KEY": "contract_signing_key",
    "EXCHANGE_BANK_URL": "bank_url",
    "EXCHANGE_BANK_API_KEY": "bank_api_key",
    "EXCHANGE_BANK_SECRET": "bank_secret",
    "EXCHANGE_BANK_ACCOUNT_PREFIX": "bank_account_prefix",
    "EXCHANGE_PAYMENT_REMINDER_HOURS": "payment_reminder_hours",
    "EXCHANGE_PAYMENT_SWEEP_SECONDS": "payment_sweep_seconds",
    "EXCHANGE_NODE_OFFER_SECONDS": "node_offer_seconds",
    "EXCHANGE_NODE_SILENCE_SECONDS": "node_silence_seconds",
    "EXCHANGE_DELIVERY_SWEEP_SECONDS": "delivery_sweep_seconds",
    "EXCHANGE_OUTCOME_SWEEP_SECONDS": "outcome_sweep_seconds",
    "EXCHANGE_RFQ_SWEEP_SECONDS": "rfq_sweep_seconds",
}


_INTEGER = re.compile(r"-?[0-9]{1,12}")  # fullmatch; int() also takes "1_0" and non-ASCII digits
_SECONDS = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")


def _parse_int(text: str, low: int, high: int) -> int:
    if not _INTEGER.fullmatch(text.strip()):
        raise ValueError("must be a whole number in ASCII digits")
    value = int(text.strip())
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}")
    return value


_INT_RANGES = {
    "port": (0, 65535),
    "db_pool_size": (1, 1000),
    "rate_limit_per_second": (1, 10_000_000),
    "rate_limit_burst": (1, 10_000_000),
    "max_keys_per_participant": (1, 1000),
    "auth_failures_per_second": (1, 1_000_000),
    "auth_failure_burst": (1, 1_000_000),
    "snapshot_every": (1, 100_000_000),
    "node_offer_seconds": (1, 7 * 86400),
    "node_silence_seconds": (1, 7 * 86400),
}


def _parse_seconds(text: str) -> float:
    if not _SECONDS.fullmatch(text.strip()):
        raise ValueError("must be a number of seconds in ASCII digits, e.g. 2.5")
    value = float(text)
    if not 0 <= value <= 3600:
        raise ValueError("must be between 0 and 3600 seconds")
    return value


_URL_SCHEMES = {
    "database_url": (("postgres://", "postgresql://"), "a postgresql:// URL"),
    "bank_url": (("http://", "https://"), "an http:// or https:// URL"),
}
_MIN_LENGTHS = {"bootstrap_operator_key": 24, "bank_secret": 16}


def _parse_hours(text: str) -> tuple[int, ...]:
    """Reminder hours: distinct whole numbers of hours, comma-separated, largest first."""
    hours = [_parse_int(part, 1, 8760) for part in text.split(",")]
    if len(set(hours)) != len(hours):
        raise ValueError("each number of hours may be given once")
    return tuple(sorted(hours, reverse=True))


def _parse(field: str, raw: str) -> object:
    if field == "payment_reminder_hours":
        return _parse_hours(raw)
    if field in _INT_RANGES:
        return _parse_int(raw, *_INT_RANGES[field])
    if field in _URL_SCHEMES:
        schemes, what = _URL_SCHEMES[field]
        if not raw.startswith(schemes):
            raise ValueError(f"must be {what}")
        return raw.rstrip("/") if field == "bank_url" else raw
    if field in (
        "shutdown_timeout", "payment_sweep_seconds", "delivery_sweep_seconds",
        "outcome_sweep_seconds", "rfq_sweep_seconds",
    ):  # fmt: skip
        return _parse_seconds(raw)
    if field == "data_dir":
        return Path(raw).expanduser()
    if field == "log_level":
        level = raw.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(sorted(_LOG_LEVELS))}")
        return level
    if len(raw) < _MIN_LENGTHS.get(field, 0):
        raise ValueError(f"must be at least {_MIN_LENGTHS[field]} characters")
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from environment variables, then apply explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for variable, field in _VARIABLES.items():
        raw = env.get(variable)
        if raw is None or raw == "":
            continue
        try:
            values[field] = _parse(field, raw)
        except ValueError as exc:
            raise SettingsError(f"{variable}={raw!r} is invalid: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.rate_limit_burst < settings.rate_limit_per_second:
        raise SettingsError(
            "EXCHANGE_RATE_LIMIT_BURST must be at least EXCHANGE_RATE_LIMIT_PER_SECOND"
        )
    if settings.auth_failure_burst < settings.auth_failures_per_second:
        raise SettingsError(
            "EXCHANGE_AUTH_FAILURE_BURST must be at least EXCHANGE_AUTH_FAILURES_PER_SECOND"
        )
    return settings
