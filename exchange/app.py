"""The application: `create_app(settings)` builds everything; nothing lives at module level."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from importlib.metadata import version

import asyncpg
import msgspec
import structlog
from aiohttp import web

from exchange.api import (
    accounts,
    adjustments,
    alerts,
    bank,
    claims,
    contracts,
    delivery,
    listings,
    market,
    nodes,
    ops,
    orders,
    outcomes,
    participants,
    payments,
    quotes,
    reconciliations,
    reference,
    rfq_modes,
    rfqs,
    settlement,
    withdrawals,
    ws,
)
from exchange.api.endpoint import Endpoint, add_routes
from exchange.api.openapi import build_openapi
from exchange.api.shell import shell
from exchange.appkeys import (
    BOOT,
    CLOCK,
    DB_HEALTH,
    DEADLINES,
    LIFECYCLE,
    LIMITER,
    MARKET,
    METRICS,
    OPENAPI,
    OUTCOMES,
    PAYOUTS,
    RFQ_CHANNEL,
    RFQ_CLOSING,
    ROUTING,
    RUNTIME,
    SETTINGS,
    Lifecycle,
    Runtime,
)
from exchange.auth import Authenticator
from exchange.clock import Clock, SystemClock
from exchange.config import Settings
from exchange.contracts.signing import load_signing_key, register
from exchange.db import Conn
from exchange.db.embedded import EmbeddedPostgres
from exchange.db.health import DatabaseHealth, database_unavailable
from exchange.db.migrate import migrate
from exchange.delivery.offers import RoutingRules
from exchange.delivery.outcomes import OutcomeSweep
from exchange.delivery.routing import RoutingSweep
from exchange.market.wiring import install_market_data, market_data_lifespan
from exchange.metrics import Metrics
from exchange.negotiation.channel import RfqChannel
from exchange.negotiation.closing import RfqClosing
from exchange.orders.books import Books
from exchange.participants import ensure_bootstrap_operator
from exchange.payments.deadlines import DeadlineSweep
from exchange.payments.payouts import Payouts
from exchange.ratelimit import Limits, RateLimiter
from exchange.sweeps import background
from settlement.bank.port import Bank

log = structlog.get_logger("exchange.app")
_BOOTSTRAP_LOCK = 0x7E_C4_B0_07
CONNECT_TIMEOUT = 5.0  # seconds for one connection attempt: a hung server must not hang us
POOL_CLOSE_TIMEOUT = 3.0  # then connections still in use are terminated


def all_endpoints() -> list[Endpoint]:
    """Every endpoint of the API, in the order the OpenAPI document lists them."""
    endpoints: list[Endpoint] = []
    for module in (
        ops, participants, reference, orders, market, ws, contracts, payments, accounts, bank,
        settlement, withdrawals, adjustments, reconciliations, nodes, delivery, alerts,
        outcomes, claims, listings, rfqs, quotes, rfq_modes,
    ):  # fmt: skip
        endpoints += module.routes.endpoints
    return endpoints


async def _prepare_database(conn: Conn, settings: Settings) -> None:
    applied = await migrate(conn)
    if applied:
        log.info("migrations applied", versions=applied)
    if settings.bootstrap_operator_key:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _BOOTSTRAP_LOCK)
            pid = await ensure_bootstrap_operator(conn, settings.bootstrap_operator_key)
        log.info("bootstrap operator ready", participant_id=pid)


async def _connect(dsn: str, size: int) -> asyncpg.Pool:
    """A pool, once the database answers: it may well start after us (containers, failover)."""
    delay = 0.2
    while True:
        try:
            return await asyncpg.create_pool(
                dsn, min_size=min(2, size), max_size=size, timeout=CONNECT_TIMEOUT
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("database not reachable yet", error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _close(pool: asyncpg.Pool) -> None:
    """Close the pool in bounded time, even with the database away or a query stuck."""
    try:
        async with asyncio.timeout(POOL_CLOSE_TIMEOUT):
            await pool.close()
    except TimeoutError:
        log.warning("database connections did not close in time; terminating them")
        pool.terminate()


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    embedded: EmbeddedPostgres | None = None
    dsn = settings.database_url
    if dsn is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        dsn = await asyncio.to_thread(embedded.start)
        log.info("embedded PostgreSQL started", pgdata=str(embedded.pgdata))
    try:
        pool = await _connect(dsn, settings.db_pool_size)
        try:
            async with pool.acquire() as conn:
                await _prepare_database(conn, settings)
            app[RUNTIME].pool = pool
            app[RUNTIME].auth = Authenticator(pool)
            app[DB_HEALTH].watch(pool)
            yield
        finally:
            await app[DB_HEALTH].close()
            await _close(pool)
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
            log.info("embedded PostgreSQL stopped")


async def _books(app: web.Application) -> AsyncIterator[None]:
    """Rebuild every book before taking traffic; on shutdown drain them and snapshot."""
    settings = app[SETTINGS]
    key = await asyncio.to_thread(
        load_signing_key, settings.contract_signing_key, settings.data_dir
    )
    app[RUNTIME].signer = await register(app[RUNTIME].pool, key)
    books = Books(
        app[RUNTIME].pool,
        app[MARKET],
        app[RUNTIME].signer,
        settings.snapshot_every,
        on_database_lost=app[DB_HEALTH].lost,
        clock=app[CLOCK],
    )
    app[RUNTIME].books = books
    try:
        await books.start()  # a failure here stops the writers already started
        yield
    finally:
        await books.stop()


_deadlines = background(DEADLINES, lambda s: s.payment_sweep_seconds, "deadline-sweep")
_routing = background(ROUTING, lambda s: s.delivery_sweep_seconds, "routing-sweep")
_outcomes = background(OUTCOMES, lambda s: s.outcome_sweep_seconds, "outcome-sweep")
_rfq_closing = background(RFQ_CLOSING, lambda s: s.rfq_sweep_seconds, "rfq-closing-sweep")


async def _payouts(app: web.Application) -> AsyncIterator[None]:
    """Withdrawals go to the bank (and pending ones are retried) once the database is up;
    on shutdown the bank's connections close (if the app made the adapter)."""
    app[PAYOUTS].start(app[RUNTIME].pool)
    try:
        yield
    finally:
        await app[PAYOUTS].stop()


def _bank_of(settings: Settings) -> Bank | None:
    """The designated bank's HTTP adapter, if the settings say where the bank is."""
    if settings.bank_url is None:
        return None
    from settlement.bank.http import HttpBank

    bank: Bank = HttpBank(settings.bank_url, settings.bank_api_key or "")
    return bank


Stage = Callable[[web.Application], AsyncIterator[None]]


async def _enter(stages: contextlib.AsyncExitStack, stage: Stage, app: web.Application) -> None:
    """Enter a start-up stage; if the database goes away meanwhile, try the stage again once
    it is back (each stage undoes what it did before it failed)."""
    delay = 0.2
    while True:
        try:
            await stages.enter_async_context(contextlib.asynccontextmanager(stage)(app))
            return
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("database lost during start-up", stage=stage.__name__, retry_in=delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def _lifespan(app: web.Application) -> AsyncIterator[None]:
    """Listen at once, start up behind: /healthz answers while the database starts and the
    books load; /readyz and the API answer 503 until everything is up."""
    stages = contextlib.AsyncExitStack()

    async def boot() -> None:
        for stage in (
            _database, market_data_lifespan, _books, _deadlines, _routing, _outcomes,
            _rfq_closing, _payouts,
        ):  # fmt: skip
            await _enter(stages, stage, app)
        app[LIFECYCLE].started = True
        log.info("ready")

    app[BOOT] = asyncio.create_task(boot(), name="start-up")
    try:
        yield
    finally:
        app[BOOT].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[BOOT]
        await stages.aclose()


def _cut(lifecycle: Lifecycle) -> None:
    if lifecycle.in_flight:
        log.warning(
            "shutdown timeout: cutting requests in flight", requests=len(lifecycle.in_flight)
        )
    for task in list(lifecycle.in_flight):
        task.cancel()


async def _drain(app: web.Application) -> None:
    """Shutdown begins: no new traffic wanted; in-flight requests get the shutdown timeout
    (aiohttp alone would wait for them up to twice that before it cancels them)."""
    app[LIFECYCLE].draining = True
    asyncio.get_running_loop().call_later(app[SETTINGS].shutdown_timeout, _cut, app[LIFECYCLE])


def create_app(
    settings: Settings, clock: Clock | None = None, bank: Bank | None = None
) -> web.Application:
    """Build the center's web application from settings (and the clock its time rules read,
    and the designated bank: without one, the HTTP adapter to `settings.bank_url`, if set)."""
    app = web.Application(middlewares=[shell], client_max_size=4 * 1024 * 1024)
    app[SETTINGS] = settings
    app[CLOCK] = clock if clock is not None else SystemClock()
    app[METRICS] = Metrics()
    app[LIMITER] = Limits(
        participants=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        failed_auth=RateLimiter(settings.auth_failures_per_second, settings.auth_failure_burst),
    )
    app[LIFECYCLE] = Lifecycle()
    app[DB_HEALTH] = DatabaseHealth()
    app[RUNTIME] = Runtime()
    install_market_data(app)
    app[DEADLINES] = DeadlineSweep(app[CLOCK], settings.payment_reminder_hours, app[MARKET])
    rules = RoutingRules(
        offer=timedelta(seconds=settings.node_offer_seconds),
        silence=timedelta(seconds=settings.node_silence_seconds),
    )
    app[ROUTING] = RoutingSweep(app[CLOCK], rules, app[MARKET])
    app[OUTCOMES] = OutcomeSweep(app[CLOCK], app[MARKET])
    app[RFQ_CHANNEL] = RfqChannel(app[MARKET], app[CLOCK])
    runtime = app[RUNTIME]
    app[RFQ_CLOSING] = RfqClosing(app[CLOCK], app[RFQ_CHANNEL], lambda: runtime.signer)
    own_bank = _bank_of(settings) if bank is None else None
    app[PAYOUTS] = Payouts(
        bank or own_bank, app[MARKET], app[CLOCK], settings.bank_account_prefix,
        owns_bank=own_bank is not None,
    )  # fmt: skip
    app.cleanup_ctx.append(_lifespan)
    app.on_shutdown.append(_drain)
    endpoints = all_endpoints()
    app[OPENAPI] = msgspec.json.encode(build_openapi(endpoints, version("trading-center")))
    add_routes(app.router, endpoints)
    return app
