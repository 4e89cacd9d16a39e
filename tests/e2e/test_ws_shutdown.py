"""Shutting the app down closes every WebSocket cleanly (1001 going away)."""

import asyncio

import aiohttp

from tests.conftest import settings_for, start_app
from tests.factories import OPERATOR_KEY


async def test_shutdown_closes_sockets_with_going_away(database_url, http):
    runner, url = await start_app(settings_for(database_url))
    try:
        ws = await http.ws_connect(
            url + "/v1/ws", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
        )
        await ws.send_json({"type": "subscribe", "channels": [{"name": "heartbeat"}]})
        acknowledged = await ws.receive_json(timeout=5)
        stopping = asyncio.create_task(runner.cleanup())
        frame = await ws.receive(timeout=5)  # the client reads on while the server stops
        await stopping
    finally:
        await runner.cleanup()

    assert acknowledged["type"] == "subscribed"
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
