"""The node's client of the center: its API key on every request, answers decoded, problems
raised as `CenterRefusedError` (4xx) or `CenterUnavailableError` (cannot reach it, 5xx, 429:
try again later)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec

from exchange.delivery.agent.errors import CenterRefusedError, CenterUnavailableError

TIMEOUT = aiohttp.ClientTimeout(total=15)


class CenterClient:
    def __init__(self, url: str, node: str, key: str) -> None:
        self.url = url.rstrip("/")
        self.node = node
        self._headers = {"Authorization": f"Bearer {key}"}
        self._http = aiohttp.ClientSession(timeout=TIMEOUT)

    async def close(self) -> None:
        await self._http.close()

    async def request(self, method: str, path: str, body: object = None) -> Any:
        """One call; the decoded JSON answer of a 2xx."""
        data = None if body is None else msgspec.json.encode(body)
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._http.request(
                method, self.url + path, data=data, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CenterUnavailableError(f"{method} {path}: {exc!r}") from None
        answer = _decode(raw)
        if status >= 500 or status == 429:  # try again later (a rate limit too)
            raise CenterUnavailableError(f"{method} {path}: {status}")
        if status >= 400:
            problem = answer if isinstance(answer, dict) else {}
            code, detail = str(problem.get("code", "")), str(problem.get("detail", raw[:200]))
            raise CenterRefusedError(status, code, detail)
        return answer

    async def heartbeat(self) -> Any:
        return await self.request("POST", f"/v1/nodes/{self.node}/heartbeat", {})

    async def post_event(self, task_id: int, body: dict[str, Any]) -> Any:
        return await self.request("POST", f"/v1/delivery-tasks/{task_id}/events", body)

    async def task(self, task_id: int) -> dict[str, Any]:
        found: dict[str, Any] = await self.request("GET", f"/v1/delivery-tasks/{task_id}")
        return found

    async def tasks(self, pages: int = 20) -> list[dict[str, Any]]:
        """The node's tasks, newest first (at most `pages` pages)."""
        found: list[dict[str, Any]] = []
        path = "/v1/delivery-tasks"
        for _ in range(pages):
            page = await self.request("GET", path)
            found += page.get("data", [])
            if not page.get("has_next") or not page.get("next_cursor"):
                break
            path = f"/v1/delivery-tasks?cursor={quote(str(page['next_cursor']), safe='')}"
        return found

    async def connect(self) -> aiohttp.ClientWebSocketResponse:
        """The WebSocket at `/v1/ws`, subscribed to the `node` channel."""
        try:
            ws = await self._http.ws_connect(
                self.url + "/v1/ws", headers=self._headers, heartbeat=20.0
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403, 404):
                raise CenterRefusedError(exc.status, "WS_REFUSED", exc.message) from None
            raise CenterUnavailableError(f"websocket: {exc!r}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CenterUnavailableError(f"websocket: {exc!r}") from None
        await ws.send_str('{"type": "subscribe", "channels": [{"name": "node"}]}')
        return ws


def _decode(raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        return None
