import asyncio
import subprocess
import sys

import asyncpg
import pytest

from exchange.db.migrate import MigrationError, available_migrations, migrate
from tests.conftest import with_database
from tests.process import env_without_database

PROCESSES = 3


def _migrate_process(dsn: str, cwd) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "exchange", "migrate"],
        env=env_without_database(DATABASE_URL=dsn, EXCHANGE_LOG_LEVEL="WARNING"),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_migrate_applies_everything_once(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        recorded = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
    finally:
        await conn.close()

    assert first == [version for version, _, _ in available_migrations()]
    assert second == []
    assert [r["version"] for r in recorded] == first
    assert {"participants", "api_keys", "commodities", "regions", "audit_log"} <= tables


async def test_two_processes_migrating_at_once_do_not_collide(pg_admin_dsn, tmp_path):
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute('DROP DATABASE IF EXISTS "t_concurrent_migrate" WITH (FORCE)')
    await admin.execute('CREATE DATABASE "t_concurrent_migrate"')
    dsn = with_database(pg_admin_dsn, "t_concurrent_migrate")
    try:
        # separate `exchange migrate` processes, started together: only the lock orders them
        processes = [_migrate_process(dsn, tmp_path) for _ in range(PROCESSES)]
        outputs = [await asyncio.to_thread(p.communicate, timeout=60) for p in processes]
        conn = await asyncpg.connect(dsn)
        try:
            recorded = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        finally:
            await conn.close()
    finally:
        await admin.execute('DROP DATABASE "t_concurrent_migrate" WITH (FORCE)')
        await admin.close()

    everything = [version for version, _, _ in available_migrations()]
    assert [p.returncode for p in processes] == [0] * PROCESSES, outputs
    said = sorted(out.strip() for out, _ in outputs)
    applied_all = "applied: " + ", ".join(map(str, everything))
    assert said == sorted([applied_all] + ["up to date"] * (PROCESSES - 1))
    assert [row["version"] for row in recorded] == everything


async def test_a_changed_migration_is_refused(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum='tampered' WHERE version=1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn)
    finally:
        await conn.close()
