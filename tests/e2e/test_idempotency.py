"""Idempotency-Key: a retry gets the first answer and has no second effect; the same key for
another request is 409; 50 concurrent requests with one key have exactly one effect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp import web

from tests.conftest import settings_for
from tests.factories import Api, new_participant, unique
from tests.outbound_support import (
    FakeBank,
    arrange_available_funds,
    assert_ledger_holds,
    available_minor,
    post_with_key,
    start_app_with_bank,
)

EUR = "EUR"
WITHDRAW = {"currency": EUR, "amount": "1.00"}


@pytest.fixture(scope="module")
def bank() -> FakeBank:
    return FakeBank()


@pytest.fixture(scope="module")
async def center(database_url: str, bank: FakeBank) -> AsyncIterator[tuple[str, web.Application]]:
    runner, url = await start_app_with_bank(settings_for(database_url), bank)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


@pytest.fixture(autouse=True)
async def _ledger_holds(db: asyncpg.Connection) -> AsyncIterator[None]:
    yield
    await assert_ledger_holds(db)


async def _holder(
    operator: Api, database_url: str, roles: list[str] | None = None
) -> tuple[int, Api]:
    participant, api = await new_participant(operator, roles or ["buyer"])
    pid = participant["id"]
    path = f"/v1/participants/{pid}/bank-account"
    assert (await api.call("PUT", path, {"bank_account": unique("ACCT-")})).status == 200
    await arrange_available_funds(database_url, pid, EUR, 10_000)
    return pid, api


async def _withdrawals(db: asyncpg.Connection, pid: int) -> int:
    return int(await db.fetchval("SELECT count(*) FROM withdrawals WHERE participant_id = $1", pid))


async def test_a_retry_with_the_same_key_and_body_gets_the_first_answer_and_no_second_effect(
    operator, database_url, db, bank
):
    pid, api = await _holder(operator, database_url)
    key = unique("retry-")

    first = await post_with_key(api, "/v1/withdrawals", WITHDRAW, key)
    retry = await post_with_key(api, "/v1/withdrawals", WITHDRAW, key)

    assert first.status == retry.status == 202
    assert retry.body == first.body
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert await _withdrawals(db, pid) == 1
    assert await available_minor(db, pid, EUR) == 9_900
    assert [r.end_to_end_id for r in bank.requests].count(first.body["end_to_end_id"]) >= 1


async def test_the_same_key_with_another_body_or_route_is_409_and_changes_nothing(
    operator, database_url, db
):
    pid, api = await _holder(operator, database_url, ["operator", "buyer"])
    key = unique("reuse-")
    proposal = {"debit": {"participant_id": pid}, "credit": {"participant_id": 1},
                "currency": EUR, "amount": "1.00", "reason": "idempotency test"}  # fmt: skip

    first = await post_with_key(api, "/v1/withdrawals", WITHDRAW, key)
    other_body = await post_with_key(api, "/v1/withdrawals", WITHDRAW | {"amount": "2.00"}, key)
    other_route = await post_with_key(api, "/v1/adjustments", proposal, key)
    fresh = await post_with_key(api, "/v1/adjustments", proposal, unique("reuse-"))

    assert first.status == 202
    assert (other_body.status, other_body.body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert (other_route.status, other_route.body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert fresh.status == 201
    assert await _withdrawals(db, pid) == 1
    assert await available_minor(db, pid, EUR) == 9_900
    proposed = await db.fetchval("SELECT count(*) FROM adjustments WHERE proposed_by = $1", pid)
    assert proposed == 1


async def test_keys_are_per_participant(operator, database_url, db):
    first_pid, first = await _holder(operator, database_url)
    second_pid, second = await _holder(operator, database_url)
    key = unique("shared-")

    one = await post_with_key(first, "/v1/withdrawals", WITHDRAW, key)
    two = await post_with_key(second, "/v1/withdrawals", WITHDRAW, key)

    assert (one.status, two.status) == (202, 202)
    assert one.body["id"] != two.body["id"]
    assert (await _withdrawals(db, first_pid), await _withdrawals(db, second_pid)) == (1, 1)


async def test_a_missing_or_malformed_key_is_400(operator, database_url, db):
    pid, api = await _holder(operator, database_url)

    missing = await post_with_key(api, "/v1/withdrawals", WITHDRAW, None)
    too_long = await post_with_key(api, "/v1/withdrawals", WITHDRAW, "k" * 256)
    spaced = await post_with_key(api, "/v1/withdrawals", WITHDRAW, "two words")
    longest = await post_with_key(api, "/v1/withdrawals", WITHDRAW, "k" * 255)

    assert (missing.status, missing.body["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    assert (too_long.status, too_long.body["code"]) == (400, "IDEMPOTENCY_KEY_INVALID")
    assert (spaced.status, spaced.body["code"]) == (400, "IDEMPOTENCY_KEY_INVALID")
    assert longest.status == 202
    assert await _withdrawals(db, pid) == 1


async def test_a_refused_request_leaves_its_key_free(operator, database_url, db):
    pid, api = await _holder(operator, database_url)
    key = unique("refused-")
    body = {"currency": EUR, "amount": "150.00"}

    refused = await post_with_key(api, "/v1/withdrawals", body, key)
    await arrange_available_funds(database_url, pid, EUR, 5_000)
    accepted = await post_with_key(api, "/v1/withdrawals", body, key)

    assert (refused.status, refused.body["code"]) == (409, "INSUFFICIENT_FUNDS")
    assert accepted.status == 202
    assert await available_minor(db, pid, EUR) == 0


async def test_fifty_concurrent_requests_with_one_key_have_exactly_one_effect(
    operator, database_url, db
):
    pid, api = await _holder(operator, database_url)
    key = unique("fifty-")

    replies = await asyncio.gather(
        *(post_with_key(api, "/v1/withdrawals", WITHDRAW, key) for _ in range(50))
    )

    assert {reply.status for reply in replies} == {202}
    assert len({reply.body["id"] for reply in replies}) == 1
    assert all(reply.body == replies[0].body for reply in replies)
    assert await _withdrawals(db, pid) == 1
    assert await available_minor(db, pid, EUR) == 9_900


async def test_the_openapi_document_shows_the_header(anonymous):
    document = (await anonymous.get("/v1/openapi.json")).body

    withdraw = document["paths"]["/v1/withdrawals"]["post"]
    propose = document["paths"]["/v1/adjustments"]["post"]
    [header] = [p for p in withdraw["parameters"] if p["in"] == "header"]
    [optional] = [p for p in propose["parameters"] if p["in"] == "header"]

    assert (header["name"], header["required"]) == ("Idempotency-Key", True)
    assert header["schema"]["maxLength"] == 255
    assert (optional["name"], optional["required"]) == ("Idempotency-Key", False)
    assert {"400", "409"} <= set(withdraw["responses"])
