import asyncio

import asyncpg

from exchange.db.embedded import EmbeddedPostgres, pid_alive


async def test_data_survives_a_restart_and_stop_leaves_no_server(tmp_path):
    server = EmbeddedPostgres(tmp_path)
    dsn = await asyncio.to_thread(server.start)
    first_pid = server.server_pid()
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    await conn.close()
    await asyncio.to_thread(server.stop)

    stopped_cleanly = first_pid is not None and not pid_alive(first_pid)
    dsn = await asyncio.to_thread(server.start)
    second_pid = server.server_pid()
    try:
        conn = await asyncpg.connect(dsn)
        kept = await conn.fetchval("SELECT x FROM kept")
        await conn.close()
    finally:
        await asyncio.to_thread(server.stop)

    assert stopped_cleanly
    assert kept == 42
    assert (tmp_path / "pg" / "PG_VERSION").exists()
    assert second_pid is not None
    assert not pid_alive(second_pid)
    assert server.server_pid() is None
