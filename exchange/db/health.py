"""Whether the database is reachable: which errors mean it is away, and a probe for its return."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

import asyncpg
import structlog

log = structlog.get_logger("exchange.db")

# Errors of a server that is gone, going or not yet there; anything else is a bug or a refusal.
_SERVER_AWAY = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08: the connection failed or was lost
    asyncpg.AdminShutdownError,  # 57P01: the server is shutting down
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed, the server restarts
    asyncpg.CannotConnectNowError,  # 57P03: the database system is starting up
    asyncpg.TooManyConnectionsError,  # 53300: no connection slot free right now
)
PROBE_EVERY = 0.25  # seconds between probes while the database is away
PROBE_TIMEOUT = 2.0


def _raised_in_asyncpg(tb: TracebackType | None) -> bool:
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


def _server_away(exc: BaseException) -> bool:
    if isinstance(exc, _SERVER_AWAY):
        return True
    # a socket error (refused, reset, no socket file, connect timeout) on the way to the server
    return isinstance(exc, OSError) and _raised_in_asyncpg(exc.__traceback__)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (refused, reset, shutting down,
    starting up, connection dropped), as opposed to a query the database refused.

    The cause counts too: a lost connection often surfaces as the error of what ran next
    (leaving a transaction on a closed connection raises InterfaceError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _server_away(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class DatabaseHealth:
    """Knows when the database went away, and probes until it answers again.

    While it is away every route that needs it answers 503 at once instead of each request
    waiting for its own connection attempt to fail.
    """

    def __init__(self) -> None:
        self.available = True
        self._pool: asyncpg.Pool | None = None
        self._probe: asyncio.Task[None] | None = None

    def watch(self, pool: asyncpg.Pool) -> None:
        """Probe this pool from now on."""
        self._pool = pool

    def lost(self) -> None:
        """A query failed because the database is away: probe until it returns."""
        if not self.available or self._pool is None:
            return
        log.warning("database unavailable")
        self.available = False
        self._probe = asyncio.get_running_loop().create_task(self._wait_for_return(self._pool))

    async def _wait_for_return(self, pool: asyncpg.Pool) -> None:
        while True:
            await asyncio.sleep(PROBE_EVERY)
            try:
                async with asyncio.timeout(PROBE_TIMEOUT):
                    await pool.fetchval("SELECT 1")
            except Exception as exc:
                if not database_unavailable(exc) and not isinstance(exc, TimeoutError):
                    log.warning("database probe failed", error=repr(exc))
                continue
            # connections opened before the outage are dead: open new ones on next use
            await pool.expire_connections()
            self.available = True
            log.info("database available again")
            return

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
