"""Builders shared by the tests: an API client and bodies for common resources."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import ClientSession

OPERATOR_KEY = "tck_test-operator-key-0123456789abcdef"
CONTRACT_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # a fixed Ed25519 seed, base64
_numbers = itertools.count(1)


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


class Api:
    """A thin JSON client bound to one API key."""

    def __init__(self, http: ClientSession, base_url: str, key: str | None) -> None:
        self.http = http
        self.base_url = base_url
        self.key = key

    def with_key(self, key: str | None) -> Api:
        return Api(self.http, self.base_url, key)

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        data: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.http.request(
            method, self.base_url + path, json=json, data=data, params=params, headers=headers
        ) as response:
            if response.content_type.endswith("json"):
                body = await response.json(content_type=None)
            else:
                body = await response.text()
            return Reply(response.status, body, response.headers)

    async def get(self, path: str, **params: str) -> Reply:
        return await self.call("GET", path, params=params or None)

    async def post(self, path: str, json: Any = None) -> Reply:
        return await self.call("POST", path, json if json is not None else {})

    async def patch(self, path: str, json: Any) -> Reply:
        return await self.call("PATCH", path, json)

    async def delete(self, path: str) -> Reply:
        return await self.call("DELETE", path)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_numbers)}"


def participant_body(roles: list[str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "legal_name": unique("Acme Trading Co. "),
        "registration_number": unique("REG-"),
        "contact": {"name": "Jane Doe", "email": "jane@acme.example", "phone": "+49 30 1234567"},
        "roles": roles,
    }
    body.update(overrides)
    return body


def commodity_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": unique("STEEL-HRC-"),
        "name": "Hot-rolled steel coil",
        "unit": "t",
        "currency": "EUR",
        "tick_size": "0.50",
        "lot_size": "0.5",
        "min_quantity": "10",
        "fee_rate_bps": 15,
        "review_threshold": "1000000.00",
    }
    body.update(overrides)
    return body


async def new_participant(operator: Api, roles: list[str], **overrides: Any) -> tuple[Any, Api]:
    """Register a participant; return it and a client holding its first key."""
    reply = await operator.post("/v1/participants", participant_body(roles, **overrides))
    assert reply.status == 201, reply.body
    return reply.body["participant"], operator.with_key(reply.body["api_key"]["key"])


def order_body(
    commodity: str, side: str, price: str | int, quantity: str | int, **extra: Any
) -> dict[str, Any]:
    """An order with a fresh client_order_id; an int price is whole currency units."""
    return {
        "client_order_id": unique("o-"),
        "commodity": commodity,
        "side": side,
        "price": f"{price}.00" if isinstance(price, int) else price,
        "quantity": str(quantity),
    } | extra


async def place(
    api: Api, commodity: str, side: str, price: str | int, quantity: str | int, **extra: Any
) -> Any:
    """Place an order that must be accepted; return it."""
    reply = await api.post("/v1/orders", order_body(commodity, side, price, quantity, **extra))
    assert reply.status == 201, reply.body
    return reply.body


async def whole_unit_commodity(operator: Api) -> str:
    """List a commodity traded in whole units at whole prices; return its code."""
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    reply = await operator.post("/v1/commodities", body)
    assert reply.status == 201, reply.body
    return str(body["code"])


async def change_behind_the_center(database_url: str, participant_id: int, update: str) -> None:
    """Change a participant as another process of the center would (the trading gate's move,
    then `update`, with $1 the participant, in one transaction), while this process's key
    cache still holds the participant as it was."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT trading_gate_move($1)", participant_id)
            await conn.execute(update, participant_id)
    finally:
        await conn.close()
