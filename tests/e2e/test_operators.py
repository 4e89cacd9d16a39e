"""The center always keeps an operator; the bootstrap key is the way back in."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import ClientSession

from exchange.participants import OPERATORS_LOCK
from tests.conftest import settings_for, start_app
from tests.factories import OPERATOR_KEY, Api, new_participant


@contextlib.asynccontextmanager
async def _center(
    database_url: str, http: ClientSession, key: str = OPERATOR_KEY
) -> AsyncIterator[Api]:
    """A center on the module's database (started afresh: start-up is under test here)."""
    runner, url = await start_app(settings_for(database_url, bootstrap_operator_key=key))
    try:
        yield Api(http, url, key)
    finally:
        await runner.cleanup()


async def _my_id(api: Api) -> int:
    return int((await api.get("/v1/me")).body["participant"]["id"])


async def test_the_last_operator_cannot_remove_its_own_role(database_url, http):
    async with _center(database_url, http) as operator:
        me = await _my_id(operator)

        removed = await operator.patch(f"/v1/participants/{me}", {"roles": ["buyer"]})
        after = await operator.get(f"/v1/participants/{me}")

    assert (removed.status, removed.code) == (409, "LAST_OPERATOR")
    assert removed.headers["Content-Type"].startswith("application/problem+json")
    assert after.status == 200
    assert after.body["roles"] == ["operator"]


async def test_the_last_operator_cannot_revoke_its_last_key(database_url, http):
    async with _center(database_url, http) as operator:
        me = await _my_id(operator)
        key_id = (await operator.get("/v1/me")).body["key_id"]

        revoked = await operator.delete(f"/v1/participants/{me}/keys/{key_id}")
        still = await operator.get("/v1/me")

    assert (revoked.status, revoked.code) == (409, "LAST_OPERATOR")
    assert still.status == 200


async def test_with_a_second_operator_the_role_may_go(database_url, http):
    async with _center(database_url, http) as operator:
        other, second = await new_participant(operator, ["operator"])
        me = await _my_id(operator)

        removed = await operator.patch(f"/v1/participants/{me}", {"roles": ["buyer"]})
        refused = await second.patch(f"/v1/participants/{other['id']}", {"roles": ["buyer"]})
        # give the role back for the tests after this one (start-up would, too)
        restored = await second.patch(f"/v1/participants/{me}", {"roles": ["operator"]})

    assert removed.status == 200
    assert removed.body["roles"] == ["buyer"]
    assert (refused.status, refused.code) == (409, "LAST_OPERATOR")
    assert restored.status == 200


async def _suspend_operators_but(operator: Api, keep: set[int]) -> None:
    """Leave only `keep` (and the caller) as active operators: earlier tests made others."""
    listing = await operator.get("/v1/participants", role="operator", status="active", limit="500")
    for other in listing.body["data"]:
        if other["id"] not in keep | {await _my_id(operator)}:
            assert (await operator.post(f"/v1/participants/{other['id']}/suspend")).status == 200


async def _waiting_for_lock(db: asyncpg.Connection, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # the first waits for the operators' lock, the second (now or soon) for the first
        waiting = await db.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
        if waiting >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} requests waited for a lock")


async def test_two_operators_suspending_each_other_leave_one(database_url, http, db):
    async with _center(database_url, http) as operator:
        a, first = await new_participant(operator, ["operator"])
        b, second = await new_participant(operator, ["operator"])
        me = await _my_id(operator)
        await _suspend_operators_but(operator, {a["id"], b["id"]})
        assert (await operator.patch(f"/v1/participants/{me}", {"roles": ["buyer"]})).status == 200

        # hold the lock so both requests are inside their transactions at the same time
        async with db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", OPERATORS_LOCK)
            both = asyncio.gather(
                first.post(f"/v1/participants/{b['id']}/suspend"),
                second.post(f"/v1/participants/{a['id']}/suspend"),
            )
            await _waiting_for_lock(db, 2)
        replies = await both
        statuses = await db.fetch(
            "SELECT id, status FROM participants WHERE id = ANY ($1::bigint[])", [a["id"], b["id"]]
        )

    assert sorted((r.status, r.code) for r in replies) == [(200, None), (409, "LAST_OPERATOR")]
    assert sorted(row["status"] for row in statuses) == ["active", "suspended"]


async def test_the_bootstrap_key_restores_role_and_status_at_start(database_url, http, db):
    async with _center(database_url, http) as operator:
        _, other = await new_participant(operator, ["operator"])
        me = await _my_id(operator)
        assert (await operator.patch(f"/v1/participants/{me}", {"roles": ["buyer"]})).status == 200
        assert (await other.post(f"/v1/participants/{me}/suspend")).status == 200
        locked_out = await operator.get("/v1/participants")

    async with _center(database_url, http) as operator:
        back = await operator.get("/v1/me")
        listing = await operator.get("/v1/participants")

    assert (locked_out.status, locked_out.code) == (403, "PARTICIPANT_SUSPENDED")
    assert back.status == 200
    assert back.body["participant"]["status"] == "active"
    assert set(back.body["participant"]["roles"]) == {"buyer", "operator"}
    assert listing.status == 200


async def test_a_new_bootstrap_key_also_restores_the_centers_operator(database_url, http):
    async with _center(database_url, http) as operator:
        _, other = await new_participant(operator, ["operator"])
        me = await _my_id(operator)
        assert (await operator.patch(f"/v1/participants/{me}", {"roles": ["buyer"]})).status == 200
        assert (await other.post(f"/v1/participants/{me}/suspend")).status == 200

    new_key = "tck_a-new-bootstrap-key-for-the-same-center"
    async with _center(database_url, http, new_key) as operator:
        back = await operator.get("/v1/me")
        listing = await operator.get("/v1/participants")

    assert back.body["participant"]["id"] == me  # the same participant, under the new key
    assert back.body["participant"]["status"] == "active"
    assert "operator" in back.body["participant"]["roles"]
    assert listing.status == 200
