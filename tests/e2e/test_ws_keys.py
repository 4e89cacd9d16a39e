"""Revoking or replacing an API key closes the sockets opened with it, and only those."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api, new_participant


async def _closed_with(sock: Socket) -> list[dict[str, Any]]:
    """Every text message until the close (skipping nothing); asserts the close code 1008."""
    seen = []
    async with asyncio.timeout(10):  # heartbeats flow until the close
        while True:
            frame = await sock.ws.receive()
            if frame.type is not aiohttp.WSMsgType.TEXT:
                break
            seen.append(frame.json())
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), frame
    assert sock.ws.close_code == 1008
    return seen


async def _issue(api: Api, pid: int, **body: Any) -> tuple[int, Api]:
    reply = await api.post(f"/v1/participants/{pid}/keys", {"label": "ws", **body})
    assert reply.status == 201, reply.body
    return reply.body["id"], api.with_key(reply.body["key"])


async def _first_key(api: Api, pid: int) -> int:
    keys = (await api.get(f"/v1/participants/{pid}/keys")).body
    return int(keys["data"][0]["id"])


async def test_a_revoked_keys_socket_is_told_and_closed_another_keys_stays_open(operator):
    participant, first = await new_participant(operator, ["buyer"])
    pid = participant["id"]
    first_id = await _first_key(first, pid)
    _, second = await _issue(first, pid)
    revoked, kept = await connect(first), await connect(second)
    for sock in (revoked, kept):
        await sock.subscribe({"name": "heartbeat"})

    reply = await operator.delete(f"/v1/participants/{pid}/keys/{first_id}")
    seen = await _closed_with(revoked)
    still_open = await kept.subscribe({"name": "user"})

    assert reply.status == 200
    assert [m for m in seen if m["type"] != "heartbeat"] == [
        {"type": "error", "code": "API_KEY_REVOKED", "message": "the API key was revoked"}
    ]
    assert still_open["channels"] == [{"name": "user"}]
    await kept.ws.close()


async def test_a_rotated_keys_socket_is_told_and_closed_the_new_keys_stays_open(operator):
    participant, first = await new_participant(operator, ["supplier"])
    pid = participant["id"]
    first_id = await _first_key(first, pid)
    old = await connect(first)
    await old.subscribe({"name": "heartbeat"})

    _, rotated = await _issue(first, pid, replaces_key_id=first_id)
    seen = await _closed_with(old)
    new = await connect(rotated)
    answer = await new.subscribe({"name": "heartbeat"})

    assert [m for m in seen if m["type"] != "heartbeat"] == [
        {
            "type": "error",
            "code": "API_KEY_REVOKED",
            "message": "the API key was replaced by a new one",
        }
    ]
    assert answer["channels"] == [{"name": "heartbeat"}]
    await new.ws.close()


async def test_revoking_one_participants_key_leaves_other_participants_sockets_open(operator):
    participant, buyer = await new_participant(operator, ["buyer"])
    _, other = await new_participant(operator, ["buyer"])
    doomed, bystander = await connect(buyer), await connect(other)
    await doomed.subscribe({"name": "heartbeat"})
    await bystander.subscribe({"name": "heartbeat"})
    key_id = await _first_key(buyer, participant["id"])

    await operator.delete(f"/v1/participants/{participant['id']}/keys/{key_id}")
    await _closed_with(doomed)
    answer = await bystander.subscribe({"name": "user"})

    assert answer["channels"] == [{"name": "user"}]
    await bystander.ws.close()
