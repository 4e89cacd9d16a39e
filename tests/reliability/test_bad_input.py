"""Bytes that are not what they claim, digits that are not ASCII, times the center cannot hold:
each a 4xx problem+json naming what is wrong, and nothing stored."""

from __future__ import annotations

import base64
import json

import pytest

from tests.factories import OPERATOR_KEY, Api, commodity_body, new_participant, unique
from tests.reliability.rawhttp import raw_request

pytestmark = pytest.mark.asyncio(loop_scope="session")
AUTH = (b"Authorization", b"Bearer " + OPERATOR_KEY.encode())


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict:
    await operator.post("/v1/regions", {"code": "EU-BI", "name": "Bad input"})
    body = commodity_body(tick_size="0.50", lot_size="0.5", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    _, trader = await new_participant(operator, ["buyer", "supplier"], home_region="EU-BI")
    return {"commodity": body["code"], "trader": trader}


def _order(desk: dict, **change) -> dict:
    return {
        "client_order_id": unique("b-"),
        "commodity": desk["commodity"],
        "side": "buy",
        "price": "100.00",
        "quantity": "2",
    } | change


@pytest.mark.parametrize(
    "name",
    [
        b"\xff\xfe",  # not UTF-8 at all
        b"\xed\xa0\x80",  # an encoded surrogate (CESU-8), not UTF-8
        b"\xc0\xaf",  # an overlong encoding of '/'
        b"A\xf4\x90\x80\x80",  # beyond U+10FFFF
    ],
)
async def test_a_body_that_is_not_utf8_is_400(base_url, operator, name):
    code = unique("R-BAD-")
    body = b'{"code": "' + code.encode() + b'", "name": "' + name + b'"}'

    reply = await raw_request(
        base_url, "POST", b"/v1/regions", [AUTH, (b"Content-Type", b"application/json")], body
    )
    lookup = await operator.get(f"/v1/regions/{code}")

    assert reply.status == 400
    assert reply.problem["code"] == "INVALID_UTF8"
    assert lookup.status == 404


async def test_an_escaped_lone_surrogate_is_400(operator):
    reply = await operator.call(
        "POST", "/v1/regions", data=b'{"code": "R-SUR", "name": "a\\ud800b"}'
    )

    assert (reply.status, reply.code) == (400, "MALFORMED_REQUEST")
    assert (await operator.get("/v1/regions/R-SUR")).status == 404


async def test_a_nul_character_in_text_is_422_and_nothing_is_stored(operator):
    reply = await operator.post("/v1/regions", {"code": "R-NUL", "name": "a\u0000b"})
    escaped_backslash = await operator.post(
        "/v1/regions", {"code": "R-BACKSLASH", "name": "a\\u0000b"}
    )

    assert (reply.status, reply.code) == (422, "INVALID_TEXT")
    assert (await operator.get("/v1/regions/R-NUL")).status == 404
    assert escaped_backslash.status == 201  # a backslash, then "u0000": plain text
    assert escaped_backslash.body["name"] == "a\\u0000b"


@pytest.mark.parametrize(
    "header",
    [b"Bearer \xc3\xa9\xff", b"Bearer tck_\xe2\x82\xac", b"Bearer \xff" + OPERATOR_KEY.encode()],
)
async def test_an_authorization_header_that_is_not_ascii_is_401(base_url, header):
    reply = await raw_request(base_url, "GET", b"/v1/me", [(b"Authorization", header)])

    assert reply.status == 401
    assert reply.problem["code"] == "UNAUTHENTICATED"
    assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "order_id", ["%C2%B9", "%D9%A3", "%EF%BC%91", "1%0A", "%F0%9D%9F%8F", "%FF", "1%00"]
)
async def test_an_id_that_is_not_ascii_digits_is_404(desk, order_id):
    reply = await desk["trader"].get(f"/v1/orders/{order_id}")

    assert (reply.status, reply.code) == (404, "NOT_FOUND")


async def test_a_participant_id_of_unicode_digits_is_404(operator):
    reply = await operator.get("/v1/participants/%C2%B9%C2%B2")

    assert (reply.status, reply.code) == (404, "NOT_FOUND")


@pytest.mark.parametrize("code", ["a%00b", "%ED%A0%80", "%FF%FE"])
async def test_a_path_name_that_is_not_text_is_404(operator, code):
    reply = await operator.get(f"/v1/commodities/{code}")

    assert reply.status == 404
    assert reply.code in ("NOT_FOUND", "UNKNOWN_COMMODITY")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "\u0661\u0660\u0660"),  # Arabic-Indic digits: 100
        ("price", "\u0661\u0660\u0660.\u0665"),
        ("price", "\uff11\uff10\uff10"),  # full-width digits
        ("price", "100.00\n"),
        ("quantity", "\u0662"),
        ("quantity", "2\n"),
        ("min_fill_quantity", "\u0661"),
    ],
)
async def test_decimals_take_ascii_digits_only(desk, field, value):
    body = _order(desk, **{field: value})

    reply = await desk["trader"].post("/v1/orders", body)
    stored = await desk["trader"].get("/v1/orders")

    assert reply.status == 422
    assert reply.code in ("VALIDATION_FAILED", "PRICE_OFF_TICK", "QUANTITY_OFF_LOT")
    assert reply.body["errors"][0]["path"] == f"$.{field}"
    assert all(o["client_order_id"] != body["client_order_id"] for o in stored.body["data"])


async def test_commodity_decimals_take_ascii_digits_only(operator):
    reply = await operator.post("/v1/commodities", commodity_body(tick_size="\u0661"))

    assert (reply.status, reply.code) == (422, "VALIDATION_FAILED")
    assert reply.body["errors"][0]["path"] == "$.tick_size"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"limit": "\u0661\u0660"}, 422, "VALIDATION_FAILED"),
        ({"limit": "10\n"}, 422, "VALIDATION_FAILED"),
        ({"cursor": "\u0661"}, 400, "BAD_CURSOR"),
        ({"cursor": "a\u0000b"}, 400, "INVALID_TEXT"),
        ({"cursor": _cursor("a\u0000b")}, 400, "BAD_CURSOR"),
        ({"cursor": _cursor(2**70)}, 400, "BAD_CURSOR"),
        ({"cursor": _cursor(-(2**70))}, 400, "BAD_CURSOR"),
    ],
)
async def test_bad_query_parameters_are_4xx(operator, params, status, code):
    for path in ("/v1/commodities", "/v1/participants"):
        reply = await operator.get(path, **params)

        assert (reply.status, reply.code) == (status, code), (path, reply.body)


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(2**70),
        _cursor("2026-01-01T00:00:00+00:00|\u0663"),
        _cursor("2026-01-01T00:00:00+00:00|99999999999999999999999"),
        _cursor("2026-01-01T00:00:00|5"),  # no time zone
        _cursor("9999-12-31T23:59:59+00:00|5"),
        _cursor("0001-01-01T00:00:00+00:00|5"),
    ],
)
async def test_forged_cursors_are_400(desk, operator, cursor):
    orders = await desk["trader"].get("/v1/orders", cursor=cursor)
    trades = await operator.get(f"/v1/markets/{desk['commodity']}/trades", cursor=cursor)

    assert (orders.status, orders.code) == (400, "BAD_CURSOR")
    assert (trades.status, trades.code) == (400, "BAD_CURSOR")


@pytest.mark.parametrize(
    ("endpoint", "params", "field"),
    [
        ("candles", {"from": "9999-12-01T00:00:00Z", "to": "9999-12-01T01:00:00Z"}, "from"),
        ("candles", {"to": "0001-01-01T00:00:30Z"}, "to"),
        ("candles", {"to": "9999-12-31T23:59:30Z"}, "to"),
        ("candles", {"from": "1969-12-31T23:00:00Z", "to": "1970-01-01T01:00:00Z"}, "from"),
        ("candles", {"from": "2199-12-31T23:00:00Z", "to": "2200-01-01T00:00:00Z"}, "to"),
        ("index", {"from": "9999-12-30", "to": "9999-12-31"}, "from"),
        ("index", {"to": "0001-01-02"}, "to"),
        ("index", {"from": "2026-01-01", "to": "2200-01-01"}, "to"),
    ],
)
async def test_times_out_of_range_are_422_naming_the_field(desk, operator, endpoint, params, field):
    reply = await operator.get(f"/v1/markets/{desk['commodity']}/{endpoint}", **params)

    assert (reply.status, reply.code) == (422, "OUT_OF_RANGE")
    assert reply.body["errors"][0]["path"] == f"$.{field}"


async def test_times_at_the_edges_of_the_range_are_answered(desk, operator):
    code = desk["commodity"]
    early = await operator.get(
        f"/v1/markets/{code}/candles",
        **{"from": "1970-01-01T00:00:00Z", "to": "1970-01-01T01:00:00Z"},
    )
    late = await operator.get(f"/v1/markets/{code}/candles", to="2199-12-31T23:59:30Z")
    index = await operator.get(
        f"/v1/markets/{code}/index", **{"from": "2199-12-01", "to": "2199-12-31"}
    )

    assert (early.status, early.body["candles"]) == (200, [])
    assert (late.status, late.body["candles"]) == (200, [])
    assert (index.status, index.body["points"]) == (200, [])


@pytest.mark.parametrize(
    "expires_at",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        "2262-04-12T00:00:00Z",
        "2200-01-01T00:00:00Z",
    ],
)
async def test_an_expiry_the_center_cannot_hold_is_422(desk, expires_at):
    body = _order(desk, time_in_force="gtd", expires_at=expires_at)

    reply = await desk["trader"].post("/v1/orders", body)
    batch = await desk["trader"].post("/v1/orders/batch", {"orders": [body]})
    again = await desk["trader"].post(
        "/v1/orders", body | {"expires_at": "2199-12-31T00:00:00Z", "price": "1.00"}
    )

    assert (reply.status, reply.code) == (422, "OUT_OF_RANGE")
    assert reply.body["errors"] == [
        {"path": "$.expires_at", "message": reply.body["errors"][0]["message"]}
    ]
    assert batch.body["results"][0]["error"]["code"] == "OUT_OF_RANGE"
    assert again.status == 201  # nothing was stored, not even the client_order_id
    await desk["trader"].delete(f"/v1/orders/{again.body['id']}")


@pytest.mark.parametrize("key_id", [2**63, 2**64 - 1])
async def test_an_id_beyond_a_bigint_in_a_body_is_422(operator, key_id):
    participant, _ = await new_participant(operator, ["buyer"])

    reply = await operator.post(
        f"/v1/participants/{participant['id']}/keys", {"replaces_key_id": key_id}
    )
    keys = await operator.get(f"/v1/participants/{participant['id']}/keys")

    assert (reply.status, reply.code) == (422, "VALIDATION_FAILED")
    assert reply.body["errors"][0]["path"] == "$.replaces_key_id"
    assert len(keys.body["data"]) == 1  # the first key, not replaced
