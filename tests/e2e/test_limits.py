"""Rate limits that more keys or unknown keys cannot get around, and the cap on keys."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from tests.conftest import settings_for, start_app
from tests.factories import OPERATOR_KEY, Api, new_participant

BURST = 20
KEY_CAP = 5
FAILURE_BURST = 5


@pytest.fixture(scope="module")
async def limited(database_url: str, http: ClientSession) -> AsyncIterator[Api]:
    """A center with small limits (rate 1/s); yields an operator client."""
    settings = settings_for(
        database_url,
        rate_limit_per_second=1,
        rate_limit_burst=BURST,
        max_keys_per_participant=KEY_CAP,
        auth_failures_per_second=1,
        auth_failure_burst=FAILURE_BURST,
    )
    runner, url = await start_app(settings)
    try:
        yield Api(http, url, OPERATOR_KEY)
    finally:
        await runner.cleanup()


def _most_allowed(spent: int, elapsed: float) -> int:
    """Requests a bucket of BURST tokens, refilled at 1/s, allows after `spent` were used."""
    return BURST - spent + math.ceil(elapsed) + 1


async def test_a_participant_is_held_to_one_limit_across_all_its_keys(limited):
    participant, first = await new_participant(limited, ["buyer"])
    pid = participant["id"]
    clients = [first]
    for n in range(KEY_CAP - 1):
        issued = await first.post(f"/v1/participants/{pid}/keys", {"label": f"k{n}"})
        assert issued.status == 201
        clients.append(first.with_key(issued.body["key"]))

    started = time.monotonic()
    replies = [await clients[i % len(clients)].get("/v1/me") for i in range(3 * BURST)]
    elapsed = time.monotonic() - started

    allowed = [r for r in replies if r.status == 200]
    refused = [r for r in replies if r.status != 200]
    assert len(allowed) <= _most_allowed(KEY_CAP - 1, elapsed)
    assert refused
    assert {r.status for r in refused} == {429}
    assert {r.code for r in refused} == {"RATE_LIMITED"}
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    assert r"application/problem+json" in refused[0].headers["Content-Type"]
    # the last round went to every key, and every key was refused
    assert [r.status for r in replies[-KEY_CAP:]] == [429] * KEY_CAP


async def test_keys_per_participant_are_capped(limited):
    participant, client = await new_participant(limited, ["supplier"])
    pid = participant["id"]
    issued = [await client.post(f"/v1/participants/{pid}/keys", {}) for _ in range(KEY_CAP - 1)]

    over = await client.post(f"/v1/participants/{pid}/keys", {"label": "one too many"})
    by_operator = await limited.post(f"/v1/participants/{pid}/keys", {})
    keys = await limited.get(f"/v1/participants/{pid}/keys")
    rotated = await client.post(
        f"/v1/participants/{pid}/keys", {"replaces_key_id": issued[0].body["id"]}
    )
    await client.delete(f"/v1/participants/{pid}/keys/{issued[1].body['id']}")
    after_revoking = await client.post(f"/v1/participants/{pid}/keys", {})

    assert [r.status for r in issued] == [201] * (KEY_CAP - 1)
    assert (over.status, over.code) == (409, "KEY_LIMIT_REACHED")
    assert (by_operator.status, by_operator.code) == (409, "KEY_LIMIT_REACHED")
    assert len(keys.body["data"]) == KEY_CAP  # the refused ones left nothing behind
    assert all(key["revoked_at"] is None for key in keys.body["data"])
    assert rotated.status == 201  # a rotation does not add a key
    assert after_revoking.status == 201


async def test_unknown_keys_from_one_address_are_limited(limited):
    _, buyer = await new_participant(limited, ["buyer"])
    strangers = [limited.with_key(f"tck_guess-{n:04d}-of-a-key-nobody-has") for n in range(12)]
    assert (await buyer.get("/v1/me")).status == 200  # the process now knows this key

    replies = [await stranger.get("/v1/me") for stranger in strangers]
    statuses = [r.status for r in replies]

    assert statuses[:FAILURE_BURST] == [401] * FAILURE_BURST
    assert 429 in statuses
    refused = replies[statuses.index(429)]
    assert refused.code == "RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) >= 1
    assert "failed authentications" in refused.body["detail"]
    # a key the process knows still gets in from that address; guesses do not
    assert (await buyer.get("/v1/me")).status == 200
