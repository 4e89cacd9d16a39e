import asyncio

import asyncpg
import pytest

from exchange.db.migrate import MigrationError, available_migrations, migrate


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


async def test_two_processes_migrating_at_once_do_not_collide(pg_admin_dsn, database_url):
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute('DROP DATABASE IF EXISTS "t_concurrent_migrate" WITH (FORCE)')
    await admin.execute('CREATE DATABASE "t_concurrent_migrate"')
    dsn = database_url.replace("/t_test_migrations", "/t_concurrent_migrate")
    conns = [await asyncpg.connect(dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(conn) for conn in conns))
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        for conn in conns:
            await conn.close()
        await admin.execute('DROP DATABASE "t_concurrent_migrate" WITH (FORCE)')
        await admin.close()

    applied = [versions for versions in results if versions]
    assert len(applied) == 1
    assert count == len(available_migrations())


async def test_a_changed_migration_is_refused(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum='tampered' WHERE version=1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn)
    finally:
        await conn.close()
