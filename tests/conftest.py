"""Shared fixtures: one PostgreSQL server per test session, a fresh database per module."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import ClientSession, web

from exchange.app import create_app
from exchange.appkeys import BOOT, MARKET
from exchange.clock import Clock
from exchange.config import Settings
from exchange.db.embedded import EmbeddedPostgres
from exchange.market.data import MarketData
from tests.factories import CONTRACT_KEY, OPERATOR_KEY, Api

# an admin DSN of a server the tests may use instead of an embedded one
_SERVER_URL = "TEST_DATABASE_URL"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # a CI timeout sends SIGTERM: unwind like Ctrl-C, so fixtures stop the servers they started
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A DSN (to the `postgres` database) of a server the tests may create databases on."""
    if os.environ.get(_SERVER_URL):
        yield os.environ[_SERVER_URL]
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg-session"))
    server.start()
    try:
        yield server.dsn("postgres")
    finally:
        server.stop()


def with_database(admin_dsn: str, database: str) -> str:
    if "/postgres?" in admin_dsn:
        return admin_dsn.replace("/postgres?", f"/{database}?")
    return re.sub(r"/[^/?]*(\?|$)", rf"/{database}\1", admin_dsn, count=1)


async def _drop(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
async def database_url(pg_admin_dsn: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, empty database for one test module."""
    name = "t_" + re.sub(r"\W", "_", request.module.__name__.split(".")[-1])[:40]
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await _drop(admin, name)
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(pg_admin_dsn, name)
        await _drop(admin, name)
    finally:
        await admin.close()


# for tests that provoke many 401s on purpose (the failed-authentication limit per address
# has tests of its own)
UNLIMITED_AUTH_FAILURES = {"auth_failures_per_second": 1_000_000, "auth_failure_burst": 1_000_000}


def settings_for(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "bootstrap_operator_key": OPERATOR_KEY,
        "data_dir": Path("/nonexistent-data-dir-for-tests"),
        "contract_signing_key": CONTRACT_KEY,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def start_app(settings: Settings, clock: Clock | None = None) -> tuple[web.AppRunner, str]:
    """The real app on a loopback port (reading `clock`, if given); returns the runner and its
    base URL."""
    runner = web.AppRunner(create_app(settings, clock), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await runner.app[BOOT]  # the center listens at once; wait until it is ready
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
async def center(database_url: str) -> AsyncIterator[tuple[str, web.Application]]:
    """The center running on loopback against the module's database: (base URL, app)."""
    runner, url = await start_app(settings_for(database_url))
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def base_url(center: tuple[str, web.Application]) -> str:
    return center[0]


@pytest.fixture(scope="module")
def market(center: tuple[str, web.Application]) -> MarketData:
    """The running center's market information (its `MarketFeed`)."""
    return center[1][MARKET]


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the module's database, for looking behind the API."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


@pytest.fixture(scope="module")
def operator(http: ClientSession, base_url: str) -> Api:
    """A client holding the bootstrap operator's key."""
    return Api(http, base_url, OPERATOR_KEY)


@pytest.fixture(scope="module")
def anonymous(http: ClientSession, base_url: str) -> Api:
    return Api(http, base_url, None)
