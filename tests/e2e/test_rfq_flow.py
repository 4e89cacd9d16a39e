"""An RFQ from question to paid delivery, with real processes (issue 11's first test): the
center on loopback (the real clock), the bank simulator and a node agent as processes. A buyer
asks an open RFQ; three suppliers quote from three regions; nodes publish lanes so that the
lowest price is not the lowest landed cost; the buyer counters one quote and its supplier
revises; the comparison ranks by landed cost; the buyer splits the award across two suppliers;
two signed contracts join the commodity's chain after a book contract, in the same form apart
from their source; each is paid at the bank, delivered by the node and accepted, and each
supplier is paid out."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.bank_e2e_support import Party, contract_of, party
from tests.e2e.test_delivery_end_to_end import (
    World,
    agent,
    contract_in,
    hand_over_code,
    node,
    region,
    task_of,
    world,  # noqa: F401 (the fixture)
)
from tests.factories import Api
from tests.payments_support import balance, commodity, contract

# where a contract came from: all that may differ between a book contract's form and another's
# (`terms.trade` is the book's trade, null for other sources)
SOURCE_FIELDS = frozenset({"source", "source_id", "trade"})


async def negotiate(
    buyer: Api, supplier: Api, quote_id: int, counter: str, price: str, message: str
) -> Any:
    """One round: the buyer counters the quote at `counter`, its supplier answers with a
    revision at `price`; the revised quote."""
    countered = await buyer.post(
        f"/v1/quotes/{quote_id}/counter", {"price": counter, "message": message}
    )
    assert countered.status == 201, countered.body
    assert countered.body["status"] == "countered"
    revised = await supplier.patch(f"/v1/quotes/{quote_id}", {"price": price})
    assert revised.status == 200, revised.body
    return revised.body


async def post(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api.post(path, body)
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


def shape(value: Any, drop: frozenset[str] = frozenset()) -> Any:
    """The form of a JSON document: its keys, nested, and the type of each value; keys in
    `drop` left out at any depth."""
    if isinstance(value, dict):
        return {k: shape(v, drop) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [shape(v, drop) for v in value]
    return type(value).__name__


def assert_signed(check: dict[str, Any], public_key: str, contract: dict[str, Any]) -> None:
    """The verification is valid, the hash is the canonical terms', the signature the center's."""
    assert (check["valid"], check["problems"]) == (True, []), check
    canonical = check["canonical_terms"].encode()
    assert hashlib.sha256(canonical).hexdigest() == check["hash"] == contract["hash"]
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
    public.verify(base64.b64decode(check["signature"]), canonical)  # raises if it is wrong


async def deliver(where: World, buyer: Party, made: dict[str, Any], node_code: str) -> None:
    """Pay the contract at the bank, let the node carry it, hand over the code, accept."""
    await buyer.pay(where.bank, made["amount"], made["payment_reference"])
    task = await task_of(buyer, made["id"], "in_transit")
    assert task["node"] == node_code
    await hand_over_code(where, buyer, task)
    await contract_in(buyer.api, made["id"], "delivered")
    accepted = await buyer.api.post(f"/v1/contracts/{made['id']}/accept")
    assert accepted.status == 200, accepted.body
    assert (await contract_of(buyer.api, made["id"]))["status"] == "completed"


async def test_an_open_rfq_is_quoted_countered_compared_split_and_delivered(
    world: World,  # noqa: F811 (the fixture)
) -> None:
    operator = world.operator
    home, east = await region(operator, "EU-HOME-"), await region(operator, "EU-EAST-")
    west, north = await region(operator, "EU-WEST-"), await region(operator, "EU-NORTH-")
    code = await commodity(operator)
    # the carrying node's lanes, and a dearer node on the east lane (the comparison ignores it)
    carrier = await node(world, [home], [(east, home, code, "30.00"), (west, home, code, "4.00"),
                                         (north, home, code, "12.00")])  # fmt: skip
    await node(world, [home], [(east, home, code, "45.00")])
    running = await agent(world, *carrier)
    try:
        buyer = await party(operator, world.bank, ["buyer"], "20000.00", home)
        a = await party(operator, world.bank, ["supplier"], "0.00", east)
        b = await party(operator, world.bank, ["supplier"], "0.00", west)
        c = await party(operator, world.bank, ["supplier"], "0.00", north)
        book = await contract(buyer.api, b.api, code, 109)  # the chain's first contract
        now = datetime.now(UTC)
        rfq = await post(buyer.api, "/v1/rfqs", {
            "commodity": code, "quantity": "100", "min_quantity": "10", "max_price": "150.00",
            "region": home, "delivery_earliest": str(now.date() + timedelta(days=10)),
            "delivery_latest": str(now.date() + timedelta(days=20)),
            "closes_at": (now + timedelta(hours=2)).isoformat(), "specification": "grade S235",
            "mode": "open",
        })  # fmt: skip
        valid = (now + timedelta(days=1)).isoformat()
        quotes = {}
        for name, supplier, price, quantity, origin in [
            ("a", a, "100.00", "100", east), ("b", b, "110.00", "40", west),
            ("c", c, "108.00", "60", north),
        ]:  # fmt: skip
            body = {"price": price, "quantity": quantity, "origin_region": origin,
                    "valid_until": valid}  # fmt: skip
            quotes[name] = await post(supplier.api, f"/v1/rfqs/{rfq['id']}/quotes", body)
        revised = await negotiate(
            buyer.api, c.api, quotes["c"]["id"], "99.00", "101.00", "99 and it is yours"
        )
        history = await buyer.api.get(f"/v1/quotes/{quotes['c']['id']}")
        seen = await buyer.api.get(f"/v1/rfqs/{rfq['id']}/comparison")

        # a's price is the lowest, but its freight makes its landed cost the highest
        assert (revised["status"], revised["revision"]) == ("revised", 2)
        assert [h["price"] for h in revised["history"]] == ["108.00", "101.00"]
        assert [(r["side"], r["action"], r["price"], r["message"])
                for r in history.body["negotiation"]] == [
            ("supplier", "quoted", "108.00", ""),
            ("buyer", "countered", "99.00", "99 and it is yours"),
            ("supplier", "revised", "101.00", ""),
        ]  # fmt: skip
        assert seen.status == 200, seen.body
        ranked = seen.body["quotes"]
        assert [(q["rank"], q["quote"]["id"], q["price"], q["freight"], q["landed_cost"])
                for q in ranked] == [
            (1, quotes["c"]["id"], "101.00", "12.00", "113.00"),
            (2, quotes["b"]["id"], "110.00", "4.00", "114.00"),
            (3, quotes["a"]["id"], "100.00", "30.00", "130.00"),
        ]  # fmt: skip
        assert {q["lane"]["node"] for q in ranked} == {carrier[0]}
        assert [q["supplier"]["participant_id"] for q in ranked] == [c.id, b.id, a.id]

        awarded = await post(buyer.api, f"/v1/rfqs/{rfq['id']}/award", {"awards": [
            {"quote_id": quotes["c"]["id"], "quantity": "60"},
            {"quote_id": quotes["b"]["id"], "quantity": "40"},
        ]})  # fmt: skip
        made = [line["contract"] for line in awarded["awards"]]
        by_a = await a.api.get(f"/v1/rfqs/{rfq['id']}/quotes")

        assert awarded["rfq"]["status"] == "awarded"
        assert [q["status"] for q in by_a.body] == ["declined"]
        assert [(m["seller_id"], m["amount"], m["fee"]) for m in made] == [
            (c.id, "6060.00", "9.09"), (b.id, "4400.00", "6.60")
        ]  # fmt: skip
        await assert_chained_and_signed(buyer, book, made, awarded)

        before = {s.id: Decimal((await balance(s.api))["available"]) for s in (b, c)}
        for each in made:
            await deliver(world, buyer, each, carrier[0])
        for supplier, each in zip((c, b), made, strict=True):
            after = Decimal((await balance(supplier.api))["available"])
            assert after - before[supplier.id] == Decimal(each["amount"]) - Decimal(each["fee"])
    finally:
        assert await running.stop() == 0, running.text()


async def assert_chained_and_signed(
    buyer: Party, book: dict[str, Any], made: list[dict[str, Any]], awarded: dict[str, Any]
) -> None:
    """The award's contracts follow the book contract on the commodity's chain, signed, in the
    book contract's form apart from their source."""
    listed = await buyer.api.get("/v1/contracts", commodity=book["terms"]["goods"]["commodity"])
    chain = sorted(listed.body["data"], key=lambda found: found["number"])
    key = (await buyer.api.get("/v1/contracts/public-key")).body["public_key"]

    assert [found["id"] for found in chain] == [book["id"]] + [m["id"] for m in made]
    assert [found["source"] for found in chain] == ["book", "rfq", "rfq"]
    assert [found["source_id"] for found in chain[1:]] == [a["id"] for a in awarded["awards"]]
    assert [found["terms"]["source"] for found in chain[1:]] == [
        {"kind": "rfq", "id": a["id"]} for a in awarded["awards"]
    ]
    assert [found["previous_hash"] for found in chain[1:]] == [f["hash"] for f in chain[:-1]]
    for found in chain[1:]:
        assert found["status"] == "awaiting_payment"
        assert found["terms"]["trade"] is None  # a book contract's trade, none here
        # the same form as the book's: every field, nested, with values of the same types
        assert shape(found, SOURCE_FIELDS) == shape(book, SOURCE_FIELDS)
        check = await buyer.api.get(f"/v1/contracts/{found['id']}/verification")
        assert_signed(check.body, key, found)
