"""Commodities and regions: validation, conflicts, exact decimals."""

import pytest

from tests.factories import commodity_body, new_participant


async def test_create_and_read_back_exactly(operator):
    body = commodity_body(tick_size="0.5", lot_size="0.250", min_quantity="10.5")

    created = await operator.post("/v1/commodities", body)
    fetched = await operator.get(f"/v1/commodities/{body['code']}")

    assert created.status == 201
    assert fetched.body == created.body
    assert fetched.body["tick_size"] == "0.50"
    assert fetched.body["lot_size"] == "0.250000"
    assert fetched.body["min_quantity"] == "10.500000"
    assert fetched.body["review_threshold"] == "1000000.00"
    assert fetched.body["trading_status"] == "active"
    assert fetched.body["payment_due_hours"] == 48


async def test_duplicate_commodity_code_is_409(operator):
    body = commodity_body()
    await operator.post("/v1/commodities", body)

    again = await operator.post("/v1/commodities", body)

    assert (again.status, again.code) == (409, "DUPLICATE_COMMODITY")


async def test_unknown_field_is_422_naming_it(operator):
    reply = await operator.post("/v1/commodities", commodity_body(colour="blue"))

    assert (reply.status, reply.code) == (422, "VALIDATION_FAILED")
    assert "colour" in reply.body["detail"]


async def test_wrong_type_is_422_with_the_field_path(operator):
    reply = await operator.post("/v1/commodities", commodity_body(fee_rate_bps="fifteen"))

    assert (reply.status, reply.code) == (422, "VALIDATION_FAILED")
    assert reply.body["errors"] == [
        {"path": "$.fee_rate_bps", "message": "Expected `int`, got `str`"}
    ]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("tick_size", "-0.50", "VALIDATION_FAILED"),
        ("tick_size", "0", "VALIDATION_FAILED"),
        ("tick_size", "0.001", "INVALID_DECIMAL"),
        ("lot_size", "0.0000001", "INVALID_DECIMAL"),
        ("min_quantity", "10.2", "QUANTITY_OFF_LOT"),
        ("fee_rate_bps", -1, "VALIDATION_FAILED"),
        ("fee_rate_bps", 10001, "VALIDATION_FAILED"),
        ("currency", "XAU", "UNSUPPORTED_CURRENCY"),
        ("currency", "eur", "VALIDATION_FAILED"),
        ("code", "lower case", "VALIDATION_FAILED"),
    ],
)
async def test_invalid_values_are_422_naming_the_field_and_store_nothing(
    operator, field, value, code
):
    body = commodity_body(**{field: value})

    reply = await operator.post("/v1/commodities", body)
    lookup = await operator.get(f"/v1/commodities/{body['code']}")

    assert (reply.status, reply.code) == (422, code)
    assert reply.body["errors"][0]["path"] == f"$.{field}"
    assert (lookup.status, lookup.code) == (404, "UNKNOWN_COMMODITY")


async def test_malformed_json_is_400(operator):
    reply = await operator.call("POST", "/v1/commodities", data=b'{"code": ')

    assert (reply.status, reply.code) == (400, "MALFORMED_REQUEST")


async def test_patch_keeps_tick_and_lot_fixed(operator):
    body = commodity_body()
    await operator.post("/v1/commodities", body)

    patched = await operator.patch(
        f"/v1/commodities/{body['code']}", {"fee_rate_bps": 20, "review_threshold": "5000"}
    )
    refused = await operator.patch(f"/v1/commodities/{body['code']}", {"tick_size": "1.00"})

    assert patched.status == 200
    assert patched.body["fee_rate_bps"] == 20
    assert patched.body["review_threshold"] == "5000.00"
    assert patched.body["tick_size"] == body["tick_size"]
    assert (refused.status, refused.code) == (422, "VALIDATION_FAILED")


async def test_halt_and_resume(operator):
    body = commodity_body()
    await operator.post("/v1/commodities", body)
    _, supplier = await new_participant(operator, ["supplier"])

    halted = await operator.post(f"/v1/commodities/{body['code']}/halt")
    seen_by_supplier = await supplier.get(f"/v1/commodities/{body['code']}")
    not_allowed = await supplier.post(f"/v1/commodities/{body['code']}/resume")
    resumed = await operator.post(f"/v1/commodities/{body['code']}/resume")

    assert halted.body["trading_status"] == "halted"
    assert seen_by_supplier.body["trading_status"] == "halted"
    assert not_allowed.status == 403
    assert resumed.body["trading_status"] == "active"


async def test_unknown_commodity_is_404(operator):
    reply = await operator.get("/v1/commodities/NOPE")

    assert (reply.status, reply.code) == (404, "UNKNOWN_COMMODITY")


async def test_regions_crud_and_pagination(operator):
    codes = [f"ASIA-{i}" for i in range(3)]
    for code in codes:
        assert (await operator.post("/v1/regions", {"code": code, "name": code})).status == 201

    duplicate = await operator.post("/v1/regions", {"code": codes[0], "name": "again"})
    renamed = await operator.patch(f"/v1/regions/{codes[0]}", {"name": "Asia zero"})
    first = await operator.get("/v1/regions", limit="2")
    rest = await operator.get("/v1/regions", limit="2", cursor=first.body["next_cursor"])

    assert (duplicate.status, duplicate.code) == (409, "DUPLICATE_REGION")
    assert renamed.body["name"] == "Asia zero"
    listed = [r["code"] for r in first.body["data"] + rest.body["data"]]
    assert listed[:3] == sorted(listed)[:3]
    assert set(codes) <= set(listed)
