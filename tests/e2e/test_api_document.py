"""The OpenAPI document says what the center does: statuses, methods, enums, messages."""

from __future__ import annotations

import io

from exchange.units import CURRENCY_EXPONENTS
from tests.factories import commodity_body, new_participant, unique


async def _document(anonymous) -> dict:
    reply = await anonymous.get("/v1/openapi.json")
    assert reply.status == 200
    return reply.body


async def test_plain_get_of_the_websocket_is_a_documented_400(anonymous, operator):
    document = await _document(anonymous)

    reply = await operator.get("/v1/ws")

    assert (reply.status, reply.code) == (400, "WEBSOCKET_REQUIRED")
    assert "400" in document["paths"]["/v1/ws"]["get"]["responses"]


async def test_a_body_too_large_is_a_documented_413(anonymous, operator):
    document = await _document(anonymous)

    async with operator.http.post(
        operator.base_url + "/v1/commodities",
        data=io.BytesIO(b" " * (5 * 1024 * 1024)),
        headers={"Authorization": f"Bearer {operator.key}", "Content-Type": "application/json"},
    ) as response:
        body = await response.json(content_type=None)

    assert (response.status, body["code"]) == (413, "BODY_TOO_LARGE")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = "413" in operation["responses"]
            assert documented == ("requestBody" in operation), (method, path)


async def test_a_literal_path_reports_its_own_methods(operator):
    _, buyer = await new_participant(operator, ["buyer"])

    options = await buyer.call("OPTIONS", "/v1/orders/batch")
    get = await buyer.get("/v1/orders/batch")
    by_id = await buyer.call("PUT", "/v1/orders/12345")

    assert (options.status, options.code) == (405, "METHOD_NOT_ALLOWED")
    assert options.headers["Allow"] == "POST"
    assert (get.status, get.headers["Allow"]) == (405, "POST")
    assert (by_id.status, by_id.headers["Allow"]) == (405, "DELETE,GET,PATCH")


async def test_currency_is_an_enum_of_the_supported_currencies(anonymous, operator):
    document = await _document(anonymous)
    schema = document["components"]["schemas"]["CreateCommodity"]["properties"]["currency"]

    refused = await operator.post("/v1/commodities", commodity_body(currency="XAU"))

    assert schema["enum"] == sorted(CURRENCY_EXPONENTS)
    assert (refused.status, refused.code) == (422, "UNSUPPORTED_CURRENCY")


async def test_a_refused_transition_says_what_the_contract_is(operator):
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    region = unique("EU-AD-")
    assert (await operator.post("/v1/regions", {"code": region, "name": "Docs"})).status == 201
    _, supplier = await new_participant(operator, ["supplier"], home_region=region)
    _, buyer = await new_participant(operator, ["buyer"], home_region=region)
    sell = {"client_order_id": unique("d-"), "commodity": body["code"], "side": "sell",
            "price": "10.00", "quantity": "1"}  # fmt: skip
    assert (await supplier.post("/v1/orders", sell)).status == 201
    buy = sell | {"client_order_id": unique("d-"), "side": "buy"}
    assert (await buyer.post("/v1/orders", buy)).status == 201
    [contract] = (await buyer.get("/v1/contracts", commodity=body["code"])).body["data"]
    path = f"/v1/contracts/{contract['id']}"

    again = await operator.post(path + "/approve", {})
    reject = await operator.post(path + "/reject", {"reason": "too late"})

    assert contract["status"] == "awaiting_payment"
    assert (again.status, again.code) == (409, "INVALID_TRANSITION")
    assert again.body["detail"] == f"contract {contract['id']} is already awaiting_payment"
    assert (reject.status, reject.code) == (409, "INVALID_TRANSITION")
    assert reject.body["detail"] == (
        f"contract {contract['id']} is awaiting_payment and cannot become rejected"
        " (from awaiting_payment only: cancelled, defaulted, funded)"
    )


async def test_an_empty_body_is_documented_optional_where_every_field_is(anonymous, operator):
    document = await _document(anonymous)
    body = commodity_body()
    assert (await operator.post("/v1/commodities", body)).status == 201

    patched = await operator.call("PATCH", f"/v1/commodities/{body['code']}")
    created = await operator.call("POST", "/v1/commodities")

    assert patched.status == 200
    assert document["paths"]["/v1/commodities/{code}"]["patch"]["requestBody"]["required"] is False
    assert created.status == 422
    assert document["paths"]["/v1/commodities"]["post"]["requestBody"]["required"] is True


async def test_text_holding_nul_is_refused_not_a_500(operator):
    region = await operator.post("/v1/regions", {"code": unique("NUL-"), "name": "a\u0000b"})
    commodity = await operator.post("/v1/commodities", commodity_body(unit="t\u0000"))
    reject = await operator.post("/v1/contracts/1/reject", {"reason": "no\u0000"})
    approve = await operator.post("/v1/contracts/1/approve", {"reason": "ok\u0000"})
    ticker = await operator.get("/v1/markets/A%00/ticker")
    get = await operator.get("/v1/commodities/A%00")

    for reply in (region, commodity, reject, approve):
        assert (reply.status, reply.code) == (422, "INVALID_TEXT"), reply.body
    assert (ticker.status, get.status) == (404, 404)
