"""Abuse: a participant flooding through many keys is held to its one limit; others are not."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter

from tests.conftest import settings_for, start_app
from tests.factories import OPERATOR_KEY, Api, new_participant

RATE, BURST, KEYS = 5, 30, 10


async def _issue_keys(client: Api, pid: int) -> list[Api]:
    clients = [client]
    for n in range(KEYS - 1):
        issued = await client.post(f"/v1/participants/{pid}/keys", {"label": f"flood-{n}"})
        assert issued.status == 201
        clients.append(client.with_key(issued.body["key"]))
    return clients


async def _steady(client: Api, count: int) -> list[int]:
    """A well-behaved participant: a few requests, one after the other, amid the flood."""
    return [(await client.get("/v1/me")).status for _ in range(count)]


async def test_a_flood_across_many_keys_is_held_to_one_limit(database_url, http):
    settings = settings_for(
        database_url, rate_limit_per_second=RATE, rate_limit_burst=BURST,
        max_keys_per_participant=KEYS,
    )  # fmt: skip
    runner, url = await start_app(settings)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        flooder, first = await new_participant(operator, ["buyer"])
        _, neighbour = await new_participant(operator, ["buyer"])
        keys = await _issue_keys(first, flooder["id"])

        started = time.monotonic()
        flood = asyncio.gather(*(keys[i % KEYS].get("/v1/me") for i in range(400)))
        neighbour_statuses = await _steady(neighbour, 10)
        replies = await flood
        elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()

    by_status = Counter(r.status for r in replies)
    # what one bucket allows: what was left of the burst after issuing keys, plus the refill
    most = BURST - (KEYS - 1) + math.ceil(elapsed * RATE) + 1
    assert set(by_status) == {200, 429}
    assert by_status[200] <= most
    refused = [r for r in replies if r.status == 429]
    assert all(r.code == "RATE_LIMITED" and int(r.headers["Retry-After"]) >= 1 for r in refused)
    refused_keys = {i % KEYS for i, r in enumerate(replies) if r.status == 429}
    assert len(refused_keys) == KEYS  # no key escaped the participant's limit
    assert neighbour_statuses == [200] * 10
