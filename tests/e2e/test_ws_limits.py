"""WebSocket messages count against the participant's one rate limit, like its requests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.conftest import settings_for, start_app
from tests.e2e.test_ws_market import connect
from tests.factories import Api, new_participant

BURST = 10
MESSAGES = 25


@pytest.fixture(scope="module")
async def center(database_url: str) -> AsyncIterator[tuple[str, web.Application]]:
    settings = settings_for(database_url, rate_limit_per_second=1, rate_limit_burst=BURST)
    runner, url = await start_app(settings)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


async def test_a_message_flood_is_refused_message_by_message_and_shares_the_limit(operator: Api):
    participant, first = await new_participant(operator, ["buyer"])
    issued = await operator.post(f"/v1/participants/{participant['id']}/keys", {"label": "b"})
    assert issued.status == 201, issued.body
    second = first.with_key(issued.body["key"])
    sock = await connect(first)  # the upgrade is a request: one token

    for _ in range(MESSAGES):
        await sock.send({"type": "subscribe", "channels": [{"name": "heartbeat"}]})
    answers = []
    while len(answers) < MESSAGES:
        message = await sock.recv()
        if message["type"] != "heartbeat":
            answers.append(message)
    other_key = await second.get("/v1/me")

    subscribed = [a for a in answers if a["type"] == "subscribed"]
    refused = [a for a in answers if a["type"] == "error"]
    assert len(subscribed) + len(refused) == MESSAGES
    assert 1 <= len(subscribed) <= BURST  # what was left of the burst (plus a refill or two)
    assert {a["code"] for a in refused} == {"RATE_LIMITED"}
    assert len(refused) >= MESSAGES - BURST
    assert (other_key.status, other_key.code) == (429, "RATE_LIMITED")  # one bucket, any key
    assert not sock.ws.closed  # refused messages do not cost the connection
    await sock.ws.close()
