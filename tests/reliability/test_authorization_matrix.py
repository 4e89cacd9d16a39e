"""The authorization matrix, generated from the route table.

Every route x {no key, unknown key, revoked key, suspended participant, each role} and, for
routes whose resources belong to a party, the caller's own resources and another party's.
The expected outcome comes from each endpoint's declared rule; POLICY pins the declared rules,
so dropping or loosening a route's rule fails here, and a route added without a rule too.
A deliberate change of a rule is a one-line change of POLICY.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from exchange.api.endpoint import Endpoint
from exchange.app import all_endpoints
from tests.conftest import UNLIMITED_AUTH_FAILURES, settings_for, start_app
from tests.factories import Api, commodity_body, new_participant, unique
from tests.outbound_support import arrange_withdrawal
from tests.outcomes_support import arrange_claim

ENDPOINTS = all_endpoints()
ROLES = ("operator", "buyer", "supplier", "node", "bank")
DENIED = {401, 403, 404}

# (method, path) -> "public" | "any" | the roles, space-separated; then the owned path
# parameter, if any ("+ops": operators reach every party's resources).
POLICY: dict[tuple[str, str], tuple[str, str | None]] = {
    ("GET", "/healthz"): ("public", None),
    ("GET", "/readyz"): ("public", None),
    ("GET", "/metrics"): ("public", None),
    ("GET", "/v1/openapi.json"): ("public", None),
    ("POST", "/v1/participants"): ("operator", None),
    ("GET", "/v1/participants"): ("operator", None),
    ("GET", "/v1/participants/{participant_id}"): ("operator", None),
    ("PATCH", "/v1/participants/{participant_id}"): ("operator", None),
    ("POST", "/v1/participants/{participant_id}/suspend"): ("operator", None),
    ("POST", "/v1/participants/{participant_id}/reactivate"): ("operator", None),
    ("GET", "/v1/participants/{participant_id}/keys"): ("any", "participant_id+ops"),
    ("POST", "/v1/participants/{participant_id}/keys"): ("any", "participant_id+ops"),
    ("DELETE", "/v1/participants/{participant_id}/keys/{key_id}"): ("any", "participant_id+ops"),
    ("GET", "/v1/me"): ("any", None),
    ("POST", "/v1/commodities"): ("operator", None),
    ("GET", "/v1/commodities"): ("any", None),
    ("GET", "/v1/commodities/{code}"): ("any", None),
    ("PATCH", "/v1/commodities/{code}"): ("operator", None),
    ("POST", "/v1/commodities/{code}/halt"): ("operator", None),
    ("POST", "/v1/commodities/{code}/resume"): ("operator", None),
    ("POST", "/v1/regions"): ("operator", None),
    ("GET", "/v1/regions"): ("any", None),
    ("GET", "/v1/regions/{code}"): ("any", None),
    ("PATCH", "/v1/regions/{code}"): ("operator", None),
    ("POST", "/v1/orders"): ("buyer supplier", None),
    ("POST", "/v1/orders/batch"): ("buyer supplier", None),
    ("GET", "/v1/orders"): ("operator buyer supplier", None),
    ("GET", "/v1/orders/{order_id}"): ("operator buyer supplier", "order_id+ops"),
    ("DELETE", "/v1/orders/{order_id}"): ("operator buyer supplier", "order_id+ops"),
    ("PATCH", "/v1/orders/{order_id}"): ("buyer supplier", "order_id"),
    ("GET", "/v1/fills"): ("buyer supplier", None),
    ("GET", "/v1/markets"): ("any", None),
    ("GET", "/v1/markets/{commodity}/ticker"): ("any", None),
    ("GET", "/v1/markets/{commodity}/book"): ("any", None),
    ("GET", "/v1/markets/{commodity}/trades"): ("any", None),
    ("GET", "/v1/markets/{commodity}/candles"): ("any", None),
    ("GET", "/v1/markets/{commodity}/index"): ("any", None),
    ("GET", "/v1/ws"): ("any", None),
    ("GET", "/v1/contracts"): ("any", None),
    ("GET", "/v1/contracts/public-key"): ("any", None),
    ("GET", "/v1/contracts/{contract_id}"): ("any", "contract_id+ops"),
    ("POST", "/v1/contracts/{contract_id}/approve"): ("operator", None),
    ("POST", "/v1/contracts/{contract_id}/reject"): ("operator", None),
    ("GET", "/v1/contracts/{contract_id}/verification"): ("any", "contract_id+ops"),
    ("GET", "/v1/contracts/{contract_id}/document"): ("any", "contract_id+ops"),
    ("POST", "/v1/contracts/{contract_id}/pay"): ("buyer", "contract_id"),
    ("GET", "/v1/accounts"): ("any", None),
    ("GET", "/v1/accounts/entries"): ("any", None),
    ("GET", "/v1/accounts/center"): ("operator", None),
    ("GET", "/v1/ledger/trial-balance"): ("operator", None),
    ("POST", "/v1/bank/notifications"): ("public", None),  # the bank signs what it sends
    ("POST", "/v1/contracts/{contract_id}/cancel"): ("operator", None),
    ("POST", "/v1/contracts/{contract_id}/release"): ("operator", None),
    ("POST", "/v1/contracts/{contract_id}/refund"): ("operator", None),
    ("GET", "/v1/participants/{participant_id}/payment-record"): ("any", None),
    ("PUT", "/v1/participants/{participant_id}/bank-account"): ("any", "participant_id+ops"),
    ("POST", "/v1/withdrawals"): ("buyer supplier", None),
    ("GET", "/v1/withdrawals"): ("operator buyer supplier", None),
    ("GET", "/v1/withdrawals/{withdrawal_id}"): ("operator buyer supplier", "withdrawal_id+ops"),
    ("POST", "/v1/adjustments"): ("operator", None),
    ("POST", "/v1/adjustments/{adjustment_id}/approve"): ("operator", None),
    ("POST", "/v1/adjustments/{adjustment_id}/decline"): ("operator", None),
    ("GET", "/v1/adjustments"): ("operator", None),
    ("GET", "/v1/adjustments/{adjustment_id}"): ("operator", None),
    ("POST", "/v1/reconciliations"): ("operator", None),
    ("GET", "/v1/reconciliations"): ("operator", None),
    ("POST", "/v1/nodes"): ("operator", None),
    ("GET", "/v1/nodes"): ("any", None),
    ("GET", "/v1/nodes/{node_code}"): ("any", None),
    ("PATCH", "/v1/nodes/{node_code}"): ("operator", None),
    ("POST", "/v1/nodes/{node_code}/heartbeat"): ("node", "node_code"),
    ("PUT", "/v1/nodes/{node_code}/lanes"): ("operator node", "node_code+ops"),
    ("GET", "/v1/lanes"): ("public", None),  # market information
    ("GET", "/v1/delivery-tasks"): ("operator buyer supplier node", None),
    ("GET", "/v1/delivery-tasks/{task_id}"): ("operator buyer supplier node", "task_id+ops"),
    ("POST", "/v1/delivery-tasks/{task_id}/events"): ("node", "task_id"),
    ("GET", "/v1/alerts"): ("operator", None),
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): ("operator", None),
    ("POST", "/v1/contracts/{contract_id}/accept"): ("buyer", "contract_id"),
    ("POST", "/v1/contracts/{contract_id}/shortage"): ("buyer", "contract_id"),
    ("POST", "/v1/contracts/{contract_id}/ratings"): ("buyer supplier", "contract_id"),
    ("GET", "/v1/participants/{participant_id}/credit"): ("any", None),
    ("POST", "/v1/contracts/{contract_id}/claims"): ("buyer", "contract_id"),
    ("POST", "/v1/claims/{claim_id}/answer"): ("supplier", "claim_id"),
    ("POST", "/v1/claims/{claim_id}/resolve"): ("operator", None),
    ("GET", "/v1/claims"): ("any", None),
    ("GET", "/v1/claims/{claim_id}"): ("any", "claim_id+ops"),
    ("POST", "/v1/listings"): ("buyer supplier", None),
    ("GET", "/v1/listings"): ("any", None),
    ("GET", "/v1/listings/{listing_id}"): ("any", None),
    ("PATCH", "/v1/listings/{listing_id}"): ("buyer supplier", "listing_id"),
    ("POST", "/v1/listings/{listing_id}/withdraw"): ("buyer supplier", "listing_id"),
    ("POST", "/v1/listings/{listing_id}/take"): ("buyer supplier", None),
    ("POST", "/v1/rfqs"): ("buyer", None),
    ("GET", "/v1/rfqs"): ("buyer supplier", None),
    ("GET", "/v1/rfqs/{rfq_id}"): ("buyer supplier", "rfq_id"),
    ("POST", "/v1/rfqs/{rfq_id}/cancel"): ("buyer", "rfq_id"),
    ("POST", "/v1/rfqs/{rfq_id}/quotes"): ("supplier", "rfq_id"),
    ("GET", "/v1/rfqs/{rfq_id}/quotes"): ("buyer supplier", "rfq_id"),
    ("PATCH", "/v1/quotes/{quote_id}"): ("supplier", "quote_id"),
    ("GET", "/v1/rfqs/{rfq_id}/comparison"): ("buyer", "rfq_id"),
    ("POST", "/v1/rfqs/{rfq_id}/award"): ("buyer", "rfq_id"),
    ("POST", "/v1/quotes/{quote_id}/withdraw"): ("supplier", "quote_id"),
    ("GET", "/v1/quotes/{quote_id}"): ("buyer supplier", "quote_id"),
    ("POST", "/v1/quotes/{quote_id}/counter"): ("buyer", "quote_id"),
    ("POST", "/v1/quotes/{quote_id}/accept"): ("supplier", "quote_id"),
    ("POST", "/v1/quotes/{quote_id}/reject"): ("supplier", "quote_id"),
    ("GET", "/v1/rfqs/{rfq_id}/standing"): ("supplier", "rfq_id"),
}

# bodies that get past validation, where the handler must run to find the owner
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/participants/{participant_id}/keys"): {"label": "matrix"},
    ("PATCH", "/v1/orders/{order_id}"): {"quantity": "1"},
    ("PUT", "/v1/participants/{participant_id}/bank-account"): {"bank_account": "MATRIX-0001"},
    ("PUT", "/v1/nodes/{node_code}/lanes"): {"lanes": []},
    ("POST", "/v1/delivery-tasks/{task_id}/events"): {"type": "accepted"},
    ("POST", "/v1/contracts/{contract_id}/shortage"): {"settle": "pro_rata"},
    ("POST", "/v1/contracts/{contract_id}/ratings"): {"score": 3},
    ("POST", "/v1/contracts/{contract_id}/claims"): {
        "kind": "damage",
        "amount": "1.00",
        "description": "matrix",
    },
    ("POST", "/v1/claims/{claim_id}/answer"): {"answer": "matrix"},
    ("PATCH", "/v1/listings/{listing_id}"): {"specification": "matrix"},
    ("POST", "/v1/listings/{listing_id}/take"): {"quantity": "1"},
    ("PATCH", "/v1/quotes/{quote_id}"): {"price": "400.00"},
    ("POST", "/v1/quotes/{quote_id}/counter"): {"price": "400.00"},
    ("POST", "/v1/rfqs/{rfq_id}/award"): {"awards": [{"quote_id": 1, "quantity": "1"}]},
    ("POST", "/v1/rfqs/{rfq_id}/quotes"): {
        "price": "400.00",
        "quantity": "1",
        "origin_region": "X",
        "valid_until": "2100-01-01T00:00:00Z",
    },
}


def declared(endpoint: Endpoint) -> tuple[str, str | None]:
    """An endpoint's declared rule in POLICY's notation."""
    if endpoint.public:
        rule = "public"
    elif endpoint.roles is None:
        rule = "any" if endpoint.declared else "UNDECLARED"
    else:
        rule = " ".join(sorted(endpoint.roles, key=ROLES.index))
    owned = endpoint.owned
    return rule, None if owned is None else owned.param + ("+ops" if owned.operators else "")


def _name(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


@dataclass
class Caller:
    name: str
    api: Api
    roles: frozenset[str] = frozenset()
    participant_id: int | None = None
    own: dict[str, Any] = field(default_factory=dict)  # owned path parameter -> value


@dataclass
class World:
    operator: Api
    callers: dict[str, Caller]
    values: dict[str, Any]  # path parameter -> a value naming someone else's resource

    async def spare_key(self, participant_id: int) -> int:
        reply = await self.operator.post(
            f"/v1/participants/{participant_id}/keys", {"label": unique("spare-")}
        )
        assert reply.status == 201, reply.body
        return int(reply.body["id"])

    async def throwaway(self) -> int:
        participant, _ = await new_participant(self.operator, ["buyer"])
        return int(participant["id"])


async def _order(api: Api, code: str, side: str, price: str, quantity: str = "5") -> Any:
    body = {"client_order_id": unique("m-"), "commodity": code, "side": side,
            "price": price, "quantity": quantity}  # fmt: skip
    reply = await api.post("/v1/orders", body)
    assert reply.status == 201, reply.body
    return reply.body


async def _listing(api: Api, code: str, region: str) -> int:
    """A listing of the caller's: a supplier's offer, or a buyer's wanted notice."""
    me = (await api.get("/v1/me")).body
    side = "sell" if "supplier" in me["participant"]["roles"] else "buy"
    body = {"commodity": code, "side": side, "quantity": "5", "price": "500.00",
            "min_quantity": "1", "region": region, "delivery_earliest": "2030-01-01",
            "delivery_latest": "2030-01-31", "valid_until": "2100-01-01T00:00:00Z"}  # fmt: skip
    reply = await api.post("/v1/listings", body)
    assert reply.status == 201, reply.body
    return int(reply.body["id"])


async def _rfq_and_quote(buyer: Api, supplier: Api, code: str, region: str) -> tuple[int, int]:
    """An RFQ of the buyer's open to the supplier (invited), and the supplier's quote on it."""
    me = (await supplier.get("/v1/me")).body
    body = {"commodity": code, "quantity": "5", "min_quantity": "1", "region": region,
            "delivery_earliest": "2030-01-01", "delivery_latest": "2030-01-31",
            "closes_at": "2100-01-01T00:00:00Z",
            "invited": [me["participant"]["id"]]}  # fmt: skip
    rfq = await buyer.post("/v1/rfqs", body)
    assert rfq.status == 201, rfq.body
    offer = {"price": "500.00", "quantity": "5", "origin_region": region,
             "valid_until": "2100-01-01T00:00:00Z"}  # fmt: skip
    quote = await supplier.post(f"/v1/rfqs/{rfq.body['id']}/quotes", offer)
    assert quote.status == 201, quote.body
    return int(rfq.body["id"]), int(quote.body["id"])


async def _contract_between(buyer: Api, supplier: Api, code: str) -> int:
    await _order(supplier, code, "sell", "500.00", "1")
    order = await _order(buyer, code, "buy", "500.00", "1")
    assert order["status"] == "filled", order
    [contract] = (await buyer.get("/v1/contracts", commodity=code)).body["data"]
    return int(contract["id"])


@pytest.fixture(scope="module")
async def center(database_url: str) -> AsyncIterator[tuple[str, web.Application]]:
    """The center, without the failed-authentication limit: the matrix sends hundreds of
    unknown and revoked keys from one address on purpose (that limit is tested elsewhere)."""
    # no routing sweep: the tasks the matrix arranges stay with the nodes it gave them to
    settings = settings_for(database_url, delivery_sweep_seconds=0, **UNLIMITED_AUTH_FAILURES)
    runner, url = await start_app(settings)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


async def _adjustment(operator: Api, database_url: str, credit_to: int) -> int:
    """An adjustment proposed by an operator other than `operator` (who may decide it)."""
    _, proposer = await new_participant(operator, ["operator"])
    conn = await asyncpg.connect(database_url)
    try:
        clearing = await conn.fetchval(
            "SELECT account_id FROM payment_accounts WHERE kind = 'clearing' AND currency = 'EUR'"
        )
    finally:
        await conn.close()
    body = {"debit": {"account_id": clearing}, "credit": {"participant_id": credit_to},
            "currency": "EUR", "amount": "1.00", "reason": "matrix"}  # fmt: skip
    reply = await proposer.post("/v1/adjustments", body)
    assert reply.status == 201, reply.body
    return int(reply.body["id"])


async def _node(operator: Api, region: str) -> tuple[dict[str, Any], Api]:
    body = {"code": unique("MX"), "name": "Matrix node", "regions": [region], "daily_capacity": 9}
    reply = await operator.post("/v1/nodes", body)
    assert reply.status == 201, reply.body
    return reply.body["node"], operator.with_key(reply.body["api_key"]["key"])


async def _task_and_alert(database_url: str, contract_id: int, node_code: str) -> tuple[int, int]:
    """A delivery task of the contract offered to the node, and an open alert about it."""
    conn = await asyncpg.connect(database_url)
    try:
        commodity_id, node_id = (
            await conn.fetchval("SELECT commodity_id FROM contracts WHERE id = $1", contract_id),
            await conn.fetchval("SELECT id FROM nodes WHERE code = $1", node_code),
        )
        task_id = await conn.fetchval(
            """INSERT INTO delivery_tasks (commodity_id, contract_id, status, node_id,
                   origin_region, destination_region, quantity_micro, window_start, window_end,
                   offer_expires_at, delivery_code, created_at, updated_at)
               VALUES ($1, $2, 'assigned', $3, 'X', 'X', 1000000, now(), now() + interval '9d',
                       now() + interval '9d', '123456', now(), now()) RETURNING id""",
            commodity_id, contract_id, node_id,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO task_offers (task_id, node_id, offered_at) VALUES ($1, $2, now())",
            task_id,
            node_id,
        )
        alert_id = await conn.fetchval(
            "INSERT INTO alerts (kind, subject, message, raised_at)"
            " VALUES ('no_node', $1, 'matrix', now()) RETURNING id",
            f"task:{task_id}",
        )
    finally:
        await conn.close()
    return int(task_id), int(alert_id)


@pytest.fixture(scope="module")
async def world(operator: Api, database_url: str) -> World:
    region = unique("EU-AZ-")
    assert (await operator.post("/v1/regions", {"code": region, "name": "Matrix"})).status == 201
    traded = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    spare = commodity_body()  # halted, resumed and patched by the matrix
    for body in (traded, spare):
        assert (await operator.post("/v1/commodities", body)).status == 201
    code = traded["code"]
    callers: dict[str, Caller] = {"operator": Caller("operator", operator, frozenset({"operator"}))}
    me = (await operator.get("/v1/me")).body
    callers["operator"].participant_id = me["participant"]["id"]
    for role in ROLES[1:]:
        participant, api = await new_participant(operator, [role], home_region=region)
        callers[role] = Caller(role, api, frozenset({role}), participant["id"])
    # the node caller is a registered node (its own participant, role node)
    own_node, node_api = await _node(operator, region)
    callers["node"] = Caller("node", node_api, frozenset({"node"}), own_node["participant_id"])
    other_node, _ = await _node(operator, region)
    _, other_supplier = await new_participant(operator, ["supplier"], home_region=region)
    other, other_buyer = await new_participant(operator, ["buyer"], home_region=region)
    own_contract = await _contract_between(callers["buyer"].api, callers["supplier"].api, code)
    other_contract = await _contract_between(other_buyer, other_supplier, code)
    callers["buyer"].own = {
        "order_id": (await _order(callers["buyer"].api, code, "buy", "100.00"))["id"],
        "contract_id": own_contract,
    }
    callers["supplier"].own = {
        "order_id": (await _order(callers["supplier"].api, code, "sell", "900.00"))["id"],
        "contract_id": own_contract,
    }
    own_task, _ = await _task_and_alert(database_url, own_contract, own_node["code"])
    other_task, alert_id = await _task_and_alert(database_url, other_contract, other_node["code"])
    for role in ("buyer", "supplier", "node"):
        callers[role].own["task_id"] = own_task
    callers["node"].own["node_code"] = own_node["code"]
    own_claim = await arrange_claim(database_url, own_contract)
    for role in ("buyer", "supplier"):
        owner = callers[role].participant_id
        assert owner is not None
        callers[role].own["withdrawal_id"] = await arrange_withdrawal(database_url, owner, 500)
        callers[role].own["claim_id"] = own_claim
        callers[role].own["listing_id"] = await _listing(callers[role].api, code, region)
    own_rfq, own_quote = await _rfq_and_quote(
        callers["buyer"].api, callers["supplier"].api, code, region
    )
    # a quote on the buyer's RFQ is the buyer's to read and counter too
    callers["buyer"].own |= {"rfq_id": own_rfq, "quote_id": own_quote}
    callers["supplier"].own |= {"rfq_id": own_rfq, "quote_id": own_quote}
    # someone else's: an RFQ between two other parties, invited only
    other_rfq, other_quote = await _rfq_and_quote(other_buyer, other_supplier, code, region)
    for caller in callers.values():
        caller.own["participant_id"] = caller.participant_id
    # the denied callers: no key, an unknown key, a revoked key, a suspended participant
    callers["no key"] = Caller("no key", operator.with_key(None))
    callers["unknown key"] = Caller("unknown key", operator.with_key("tck_unknown-0123456789"))
    revoked, revoked_api = await new_participant(operator, ["operator"])
    me = (await revoked_api.get("/v1/me")).body
    gone = await operator.delete(f"/v1/participants/{revoked['id']}/keys/{me['key_id']}")
    assert gone.status == 200, gone.body
    callers["revoked key"] = Caller("revoked key", revoked_api)
    suspended, suspended_api = await new_participant(operator, ["operator"])
    reply = await operator.post(f"/v1/participants/{suspended['id']}/suspend")
    assert reply.status == 200, reply.body
    callers["suspended"] = Caller("suspended", suspended_api)
    values = {
        "order_id": (await _order(other_buyer, code, "buy", "101.00"))["id"],
        "contract_id": other_contract,
        "participant_id": other["id"],
        "commodity": code,
        "withdrawal_id": await arrange_withdrawal(database_url, other["id"], 500),
        "adjustment_id": await _adjustment(operator, database_url, other["id"]),
        "task_id": other_task,
        "node_code": other_node["code"],
        "alert_id": alert_id,
        "claim_id": await arrange_claim(database_url, other_contract),
        "listing_id": await _listing(other_supplier, code, region),
        "rfq_id": other_rfq,
        "quote_id": other_quote,
    }
    return World(operator, callers, values | {"spare_code": spare["code"], "region": region})


async def _path(world: World, endpoint: Endpoint, caller: Caller, own: bool) -> str:
    """The endpoint's path with its parameters naming the caller's or someone else's things."""
    values: dict[str, Any] = dict(world.values)
    values["code"] = values["region"] if "/regions/" in endpoint.path else values["spare_code"]
    if endpoint.path.endswith(("/suspend", "/reactivate")):
        values["participant_id"] = await world.throwaway()  # not the matrix's own callers
    if own:
        values.update(caller.own)
    if "{key_id}" in endpoint.path:
        owner = values["participant_id"]
        values["key_id"] = await world.spare_key(owner) if caller.name in ROLES else 1
    return re.sub(r"{(\w+)}", lambda m: str(values[m[1]]), endpoint.path)


async def _call(world: World, endpoint: Endpoint, caller: Caller, own: bool = False) -> Any:
    path = await _path(world, endpoint, caller, own)
    body = None
    if endpoint.body is not None:
        body = VALID_BODIES.get((endpoint.method, endpoint.path), {})
    return path, await caller.api.call(endpoint.method, path, body)


def _allowed_by_role(endpoint: Endpoint, caller: Caller) -> bool:
    return endpoint.roles is None or bool(caller.roles & set(endpoint.roles))


def test_every_route_has_a_declared_rule_pinned_in_the_policy() -> None:
    undeclared = [_name(e) for e in ENDPOINTS if not e.public and not e.declared]
    rules = {(e.method, e.path): declared(e) for e in ENDPOINTS}

    assert undeclared == []
    assert rules == POLICY


# what the center publishes about a party to every participant, on purpose
PUBLISHED = {
    # counterparties choose partners by a buyer's payment record
    ("GET", "/v1/participants/{participant_id}/payment-record"),
    # ... and by anyone's credit profile
    ("GET", "/v1/participants/{participant_id}/credit"),
    # named listings are published to every participant, and taken by other parties
    ("GET", "/v1/listings/{listing_id}"),
    ("POST", "/v1/listings/{listing_id}/take"),
}


def test_routes_naming_a_party_resource_declare_its_owner() -> None:
    # an id in the path of a route that is not for operators only names something of a party's
    missing = [
        _name(e)
        for e in ENDPOINTS
        if re.search(r"{\w+_id}", e.path)
        and e.roles != {"operator"}
        and e.owned is None
        and (e.method, e.path) not in PUBLISHED
    ]

    assert missing == []


def _expected(endpoint: Endpoint, caller: Caller, own: bool) -> tuple[int, str] | None:
    """(status, code) the caller must get, or None: anything but 401, 403 and 404."""
    if endpoint.public:
        return None
    if caller.name in ("no key", "unknown key", "revoked key"):
        return 401, "UNAUTHENTICATED"
    if caller.name == "suspended":
        return 403, "PARTICIPANT_SUSPENDED"
    if not _allowed_by_role(endpoint, caller):
        return 403, "ROLE_REQUIRED"
    owned = endpoint.owned
    if owned is None or own or (owned.operators and "operator" in caller.roles):
        return None
    return 404, "UNKNOWN_"  # another party's: as if it did not exist


def _meets(expected: tuple[int, str] | None, status: int, code: str | None) -> bool:
    if expected is None:
        return status not in DENIED
    return status == expected[0] and (code or "").startswith(expected[1])


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_name)
async def test_authorization_matrix(world: World, endpoint: Endpoint) -> None:
    outcomes = []
    for caller in world.callers.values():
        owns = endpoint.owned is not None and endpoint.owned.param in caller.own
        for own in (False, True) if owns else (False,):
            path, reply = await _call(world, endpoint, caller, own)
            expected = _expected(endpoint, caller, own)
            outcomes.append(
                (caller.name, own, path, reply.status, reply.code, expected,
                 _meets(expected, reply.status, reply.code))
            )  # fmt: skip

    wrong = [outcome for outcome in outcomes if not outcome[-1]]
    assert wrong == [], outcomes
    assert len(outcomes) >= len(world.callers)
