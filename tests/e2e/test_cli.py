"""The `exchange` command as a newcomer runs it: real processes, real signals."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import asyncpg

from exchange.db.embedded import EmbeddedPostgres, pid_alive
from exchange.db.migrate import available_migrations
from tests.conftest import with_database
from tests.factories import OPERATOR_KEY, participant_body
from tests.process import Center
from tests.process import env_without_database as _env


async def _create_participant(http: aiohttp.ClientSession, base: str) -> dict:
    headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with http.post(
        base + "/v1/participants", json=participant_body(["buyer"]), headers=headers
    ) as response:
        assert response.status == 201
        return (await response.json())["participant"]


async def _participant_ids(http: aiohttp.ClientSession, base: str) -> set[int]:
    headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with http.get(base + "/v1/participants", headers=headers) as response:
        return {p["id"] for p in (await response.json())["data"]}


async def test_serve_on_embedded_postgres_stops_it_and_keeps_data(tmp_path, http):
    env = _env(EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY)
    first = Center(tmp_path, env)
    try:
        alive_after = await first.wait_healthy(http, "/healthz")
        await first.wait_healthy(http, "/readyz")
        created = await _create_participant(http, first.base)
        pg_pid = EmbeddedPostgres(tmp_path / ".exchange").server_pid()
    finally:
        first_exit = first.stop(signal.SIGTERM)

    second = Center(tmp_path, env)
    try:
        await second.wait_healthy(http)
        found = await _participant_ids(http, second.base)
        second_pg_pid = EmbeddedPostgres(tmp_path / ".exchange").server_pid()
    finally:
        second_exit = second.stop(signal.SIGINT)

    assert alive_after < 20
    assert first_exit == 0
    assert pg_pid is not None
    assert not pid_alive(pg_pid)
    assert created["id"] in found
    assert second_exit == 0
    assert second_pg_pid is not None
    assert not pid_alive(second_pg_pid)


async def test_serve_with_database_url_starts_nothing_embedded(tmp_path, http, database_url):
    center = Center(tmp_path, _env(DATABASE_URL=database_url))
    try:
        await center.wait_healthy(http)
        async with http.get(center.base + "/readyz") as response:
            ready = response.status
    finally:
        exit_code = center.stop()

    assert ready == 200
    assert exit_code == 0
    assert not (tmp_path / ".exchange" / "pg").exists()  # the data folder holds only the key


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_admin_create_operator_prints_a_working_key(tmp_path, http, database_url):
    env = _env(DATABASE_URL=database_url)

    made = await asyncio.to_thread(
        _run, ["admin", "create-operator", "--name", "Ops"], env, tmp_path
    )
    key = made.stdout.split("api key: ")[1].strip()
    center = Center(tmp_path, env)
    try:
        await center.wait_healthy(http)
        async with http.get(
            center.base + "/v1/me", headers={"Authorization": f"Bearer {key}"}
        ) as response:
            me = await response.json()
    finally:
        center.stop()

    assert made.returncode == 0, made.stderr
    assert me["participant"]["roles"] == ["operator"]
    assert me["participant"]["legal_name"] == "Ops"


async def test_migrate_command_is_idempotent(tmp_path, pg_admin_dsn):
    # a database of its own: the module's is migrated already by the centers above
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute('DROP DATABASE IF EXISTS "t_cli_migrate" WITH (FORCE)')
    await admin.execute('CREATE DATABASE "t_cli_migrate"')
    env = _env(DATABASE_URL=with_database(pg_admin_dsn, "t_cli_migrate"))
    try:
        first = await asyncio.to_thread(_run, ["migrate"], env, tmp_path)
        second = await asyncio.to_thread(_run, ["migrate"], env, tmp_path)
    finally:
        await admin.execute('DROP DATABASE "t_cli_migrate" WITH (FORCE)')
        await admin.close()

    everything = ", ".join(str(version) for version, _, _ in available_migrations())
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"applied: {everything}"
    assert second.returncode == 0
    assert second.stdout.strip() == "up to date"


async def _ready(http: aiohttp.ClientSession, base: str) -> int:
    async with http.get(base + "/readyz") as response:
        return response.status


async def test_commands_beside_a_running_center_leave_its_database_running(tmp_path, http):
    env = _env(EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY)
    commands = [
        ["contracts", "verify"],
        ["admin", "create-operator", "--name", "Night desk"],
        ["migrate"],
    ]
    center = Center(tmp_path, env)
    outcomes = []
    try:
        await center.wait_healthy(http)
        pg_pid = EmbeddedPostgres(tmp_path / ".exchange").server_pid()
        for command in commands:
            result = await asyncio.to_thread(_run, command, env, tmp_path)
            created = await _create_participant(http, center.base)  # asserts 201
            outcomes.append((result.returncode, await _ready(http, center.base), created["id"] > 0))
            if command[0] == "admin":
                key = result.stdout.split("api key: ")[1].strip()
        async with http.get(
            center.base + "/v1/me", headers={"Authorization": f"Bearer {key}"}
        ) as response:
            me = await response.json()
        pg_pid_after = EmbeddedPostgres(tmp_path / ".exchange").server_pid()
    finally:
        exit_code = center.stop()

    assert outcomes == [(0, 200, True)] * len(commands)
    assert me["participant"]["legal_name"] == "Night desk"
    assert pg_pid is not None
    assert pg_pid_after == pg_pid  # the same server all along
    assert exit_code == 0
    assert not pid_alive(pg_pid)  # the center that started it stopped it


async def test_a_command_alone_starts_and_stops_the_embedded_server(tmp_path):
    result = await asyncio.to_thread(_run, ["migrate"], _env(), tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("applied: ")
    assert (tmp_path / ".exchange" / "pg" / "PG_VERSION").exists()
    assert EmbeddedPostgres(tmp_path / ".exchange").server_pid() is None


async def test_a_bad_setting_fails_at_start_naming_the_variable(tmp_path):
    result = await asyncio.to_thread(_run, ["serve"], _env(EXCHANGE_PORT="not-a-port"), tmp_path)

    assert result.returncode != 0
    assert "EXCHANGE_PORT" in result.stderr


async def test_start_up_failure_exits_non_zero(tmp_path, http):
    center = Center(tmp_path, _env(EXCHANGE_CONTRACT_SIGNING_KEY="not a key"))
    try:
        await center.wait_healthy(http, "/healthz")
        exit_code = await asyncio.to_thread(center.process.wait, 60)
    finally:
        center.stop()

    assert exit_code == 1
    assert "start-up failed" in center.log.read_text()


async def test_a_server_left_by_a_killed_center_is_kept_by_commands_stopped_by_a_center(
    tmp_path, http
):
    env = _env(EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY)
    killed = Center(tmp_path, env)
    try:
        await killed.wait_healthy(http)
        pg_pid = EmbeddedPostgres(tmp_path / ".exchange").server_pid()
    finally:
        killed.stop(signal.SIGKILL)  # PostgreSQL outlives it, with no user left

    command = await asyncio.to_thread(_run, ["contracts", "verify"], env, tmp_path)
    after_command = EmbeddedPostgres(tmp_path / ".exchange").server_pid()
    center = Center(tmp_path, env)
    try:
        await center.wait_healthy(http)
        used = EmbeddedPostgres(tmp_path / ".exchange").server_pid()
    finally:
        exit_code = center.stop()

    assert command.returncode == 0, command.stderr
    assert pg_pid is not None
    assert after_command == pg_pid  # the command did not start it, so it did not stop it
    assert used == pg_pid
    assert exit_code == 0
    assert not pid_alive(pg_pid)  # the last center out stops it
