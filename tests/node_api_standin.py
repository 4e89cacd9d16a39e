"""A stand-in for the center's node API on loopback, as docs/delivery.md specifies it: the
`node` WebSocket channel (a `tasks_snapshot`, then a `task` message at every change), the
heartbeat, the task list and the task events with the delivery-code check. The node agent's
process tests run against it to see the agent keep to the protocol (reconnecting, resuming,
refusals); the real center's node API is tested end to end in
tests/e2e/test_delivery_end_to_end.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

# the event -> the statuses it may come from, and the status it leads to
MOVES: dict[str, tuple[frozenset[str], str | None]] = {
    "accepted": (frozenset({"assigned"}), "accepted"),
    "rejected": (frozenset({"assigned"}), "waiting"),
    "picked_up": (frozenset({"accepted"}), "picked_up"),
    "in_transit": (frozenset({"picked_up", "in_transit"}), "in_transit"),
    "shortage": (frozenset({"accepted", "picked_up", "in_transit"}), None),
    "delivered": (frozenset({"picked_up", "in_transit"}), "delivered"),
    "failed": (frozenset({"accepted", "picked_up", "in_transit"}), "failed"),
}


def _problem(status: int, code: str, detail: str) -> web.Response:
    body = msgspec.json.encode({"status": status, "code": code, "detail": detail})
    return web.Response(status=status, body=body, content_type="application/problem+json")


class NodeApiStandIn:
    def __init__(self, node: str, key: str) -> None:
        self.node = node
        self.key = key
        self.tasks: dict[int, dict[str, Any]] = {}
        self.codes: dict[int, str] = {}
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.refused: list[tuple[int, str, str]] = []  # task, event type, code
        self.heartbeats = 0
        self.unavailable = 0  # answer the next so many event posts 503, applying nothing
        self.lose_answers = 0  # apply the next so many events, then answer 503 all the same
        self.subscriptions = 0
        self.sockets: set[web.WebSocketResponse] = set()
        self.url = ""
        self._runner: web.AppRunner | None = None

    # running

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/ws", self._ws)
        app.router.add_post("/v1/nodes/{code}/heartbeat", self._heartbeat)
        app.router.add_get("/v1/delivery-tasks", self._list)
        app.router.add_get("/v1/delivery-tasks/{id}", self._get)
        app.router.add_post("/v1/delivery-tasks/{id}/events", self._event)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        await self.drop_sockets()
        if self._runner is not None:
            await self._runner.cleanup()

    async def drop_sockets(self) -> None:
        for ws in list(self.sockets):
            await ws.close()

    # what a test does

    async def offer(self, task_id: int, quantity: str, code: str, node: str | None = None) -> None:
        """Offer a new task to `node` (this node unless told) and push it on the channel."""
        self.codes[task_id] = code
        self.tasks[task_id] = {
            "id": task_id, "contract_id": 1000 + task_id, "attempt": 1, "status": "assigned",
            "node": node or self.node, "origin_region": "EU-N", "destination_region": "EU-S",
            "quantity": quantity, "window_end": "2026-12-01T00:00:00Z",
        }  # fmt: skip
        await self._push(task_id)

    async def withdraw(self, task_id: int) -> None:
        """The task is withdrawn from this node (it went silent to the center): the message
        shows the task as it stood with the node."""
        await self._push(task_id, "withdrawn")
        self.tasks[task_id] |= {"status": "assigned", "node": "ELSEWHERE"}

    def status(self, task_id: int) -> str:
        return str(self.tasks[task_id]["status"])

    def kinds(self, task_id: int) -> list[str]:
        return [str(body["type"]) for task, body in self.events if task == task_id]

    async def wait_until(self, condition: Callable[[], bool], limit: float = 20.0) -> None:
        deadline = time.monotonic() + limit
        while not condition():
            assert time.monotonic() < deadline, f"not within {limit} s: {self.events}"
            await asyncio.sleep(0.02)

    # the API

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.key}"

    async def _push(self, task_id: int, event: str = "changed") -> None:
        task = self.tasks[task_id]
        message = msgspec.json.encode({"type": "task", "sequence": 0, "event": event, "task": task})
        for ws in list(self.sockets):
            await ws.send_bytes(message)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _problem(401, "UNAUTHENTICATED", "no such key")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for frame in ws:
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            message = msgspec.json.decode(frame.data)
            if message.get("type") == "subscribe" and message["channels"] == [{"name": "node"}]:
                self.subscriptions += 1
                mine = [t for t in self.tasks.values() if t["node"] == self.node]
                await ws.send_str('{"type": "subscribed", "channels": [{"name": "node"}]}')
                snapshot = {"type": "tasks_snapshot", "sequence": 0, "tasks": mine}
                await ws.send_bytes(msgspec.json.encode(snapshot))
                self.sockets.add(ws)
        self.sockets.discard(ws)
        return ws

    async def _heartbeat(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _problem(401, "UNAUTHENTICATED", "no such key")
        if request.match_info["code"] != self.node:
            return _problem(403, "FORBIDDEN", "not your node")
        self.heartbeats += 1
        return web.json_response({"code": self.node, "online": True})

    def _task_of(self, request: web.Request) -> dict[str, Any] | None:
        task = self.tasks.get(int(request.match_info["id"]))
        return task if task is not None and task["node"] == self.node else None

    async def _list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _problem(401, "UNAUTHENTICATED", "no such key")
        mine = [t for t in self.tasks.values() if t["node"] == self.node]
        return web.json_response({"data": mine[::-1], "next_cursor": None, "has_next": False})

    async def _get(self, request: web.Request) -> web.Response:
        task = self._task_of(request) if self._authorized(request) else None
        if task is None:
            return _problem(404, "NOT_FOUND", "no such task")
        return web.json_response(task)

    async def _event(self, request: web.Request) -> web.Response:
        task = self._task_of(request) if self._authorized(request) else None
        if task is None:
            return _problem(404, "NOT_FOUND", "no such task")
        body = await request.json()
        if self.unavailable > 0:
            self.unavailable -= 1
            return _problem(503, "UNAVAILABLE", "try again")
        refusal = self._refusal(task, body)
        if refusal is not None:
            self.refused.append((task["id"], str(body.get("type")), refusal[1]))
            return _problem(*refusal)
        self.events.append((task["id"], body))
        target = MOVES[body["type"]][1]
        if target is not None:
            task["status"] = target
        await self._push(task["id"])
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return _problem(503, "UNAVAILABLE", "the answer was lost")
        return web.json_response(task)

    def _refusal(self, task: dict[str, Any], body: dict[str, Any]) -> tuple[int, str, str] | None:
        move = MOVES.get(body.get("type", ""))
        if move is None:
            return 422, "VALIDATION_FAILED", "unknown event type"
        if task["status"] not in move[0]:
            return 409, "INVALID_TASK_TRANSITION", f"{body['type']} from {task['status']}"
        if body["type"] == "delivered":
            if body.get("delivery_code") != self.codes[task["id"]]:
                return 422, "WRONG_DELIVERY_CODE", "that is not the buyer's code"
            if len(str(body.get("proof_sha256", ""))) != 64:
                return 422, "VALIDATION_FAILED", "proof_sha256 is 64 hex digits"
        return None
