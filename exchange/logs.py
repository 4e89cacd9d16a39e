"""Structured JSON logs on standard output."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import msgspec
import structlog

ACCESS_LOGGER = "exchange.access"


class AccessLog:
    """One JSON line per answered request, built directly: it is on every request's path,
    and the general structured-logging chain costs several times more per line."""

    def __init__(self) -> None:
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._encoder = msgspec.json.Encoder()

    def write(self, **fields: object) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        line = {
            "event": "request",
            **fields,
            "level": "info",
            "logger": ACCESS_LOGGER,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        self._logger.info(self._encoder.encode(line).decode())


def configure_logging(level: str) -> None:
    """One JSON object a line, for the standard library's loggers and structlog's alike."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # access lines are JSON already (see AccessLog): written as they are, not re-rendered
    access = logging.getLogger(ACCESS_LOGGER)
    plain = logging.StreamHandler(sys.stdout)
    plain.setFormatter(logging.Formatter("%(message)s"))
    access.handlers[:] = [plain]
    access.propagate = False
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
