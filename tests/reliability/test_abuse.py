"""Abuse of a running center: oversized and endless bodies, deep nesting, huge numbers, bytes
that are not UTF-8 anywhere in a request. Each is a 4xx problem+json, never a 5xx; and one
client's bad order never fails another's."""

from __future__ import annotations

import asyncio

import pytest

from tests.factories import OPERATOR_KEY, Api, commodity_body, new_participant, unique
from tests.reliability.rawhttp import raw_request

pytestmark = pytest.mark.asyncio(loop_scope="session")
AUTH = (b"Authorization", b"Bearer " + OPERATOR_KEY.encode())
JSON = (b"Content-Type", b"application/json")
LIMIT = 4 * 1024 * 1024  # the center's client_max_size


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict:
    await operator.post("/v1/regions", {"code": "EU-AB", "name": "Abuse"})
    body = commodity_body(tick_size="0.01", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    return {"commodity": body["code"]}


def _region_body(size: int) -> bytes:
    name = b"x" * (size - 40)
    return b'{"code": "R-BIG", "name": "' + name + b'"}'


async def test_a_body_over_the_limit_is_413(base_url, operator):
    reply = await raw_request(
        base_url, "POST", b"/v1/regions", [AUTH, JSON], _region_body(LIMIT + 1024)
    )

    assert reply.status == 413
    assert reply.problem["code"] == "BODY_TOO_LARGE"
    assert (await operator.get("/v1/regions/R-BIG")).status == 404


async def test_a_chunked_body_without_length_that_grows_over_the_limit_is_413(base_url, operator):
    body = _region_body(LIMIT + 256 * 1024)
    chunks = [body[i : i + 256 * 1024] for i in range(0, len(body), 256 * 1024)]

    reply = await raw_request(base_url, "POST", b"/v1/regions", [AUTH, JSON], chunks=chunks)

    assert reply.status == 413
    assert reply.problem["code"] == "BODY_TOO_LARGE"
    assert (await operator.get("/v1/regions/R-BIG")).status == 404


async def test_a_chunked_body_under_the_limit_is_read(base_url, operator):
    chunks = [b'{"code": "R-CHUNKED", ', b'"name": "in ', b'pieces"}']

    reply = await raw_request(base_url, "POST", b"/v1/regions", [AUTH, JSON], chunks=chunks)

    assert reply.status == 201
    assert (await operator.get("/v1/regions/R-CHUNKED")).body["name"] == "in pieces"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/regions", b'{"name": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
        ("/v1/regions", b'{"colour": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}"),
        ("/v1/participants", b'{"roles": ' + b"[" * 500_000 + b"]" * 500_000 + b"}"),
        ("/v1/commodities", b"[" * 1_000_000 + b"]" * 1_000_000),
        ("/v1/commodities", b"[" * 1_000_000),
    ],
    ids=["array-in-field", "objects-in-unknown-field", "arrays-in-list", "arrays", "unclosed"],
)
async def test_deeply_nested_json_is_4xx(base_url, path, body):
    reply = await raw_request(base_url, "POST", path.encode(), [AUTH, JSON], body)

    assert reply.status in (400, 422), reply.body[:300]
    assert reply.problem["code"] in ("MALFORMED_REQUEST", "VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fee_rate_bps", b"1" + b"0" * 100_000),
        ("fee_rate_bps", b"-1" + b"0" * 100_000),
        ("fee_rate_bps", b"1e400"),
        ("fee_rate_bps", b"-1e400"),
        ("fee_rate_bps", b"18446744073709551616"),
        ("fee_rate_bps", b"1.5"),
        ("tick_size", b'"' + b"9" * 1_000_000 + b'"'),
        ("tick_size", b'"1.' + b"0" * 1_000_000 + b'1"'),
        ("tick_size", b"1e400"),
        ("review_threshold", b'"999999999999999999.999999999999999999"'),
        ("payment_due_hours", b"9" * 5000),
    ],
    ids=lambda value: value if isinstance(value, str) else repr(value[:12]),
)
async def test_huge_numbers_are_422(base_url, operator, field, value):
    body = commodity_body()
    raw = (
        b"{"
        + b", ".join(
            f'"{k}": "{v}"'.encode() if isinstance(v, str) else f'"{k}": {v}'.encode()
            for k, v in body.items()
            if k != field
        )
        + f', "{field}": '.encode()
        + value
        + b"}"
    )

    reply = await raw_request(base_url, "POST", b"/v1/commodities", [AUTH, JSON], raw)

    assert reply.status == 422, reply.body[:300]
    assert reply.problem["errors"][0]["path"] == f"$.{field}"
    assert (await operator.get(f"/v1/commodities/{body['code']}")).status == 404


@pytest.mark.parametrize(
    ("target", "headers", "body"),
    [
        (b"/v1/regions", [AUTH, JSON], b'{"code": "R-U", "name": "\xff"}'),
        (b"/v1/regions", [AUTH, JSON], b'{"code": "R-U", "\xff": 1}'),
        (b"/v1/regions", [(b"Authorization", b"Bearer \xff\xfe"), JSON],
         b'{"code": "R-U", "name": "ok"}'),
        (b"/v1/regions?x=%FF", [AUTH, JSON], b'{"code": "R-U", "name": "\xc3"}'),
        (b"/v1/regions/%FF%FE", [AUTH, JSON], b'{"name": "ok"}'),
        (b"/v1/regions/%ED%A0%80", [AUTH, JSON], b'{"name": "ok"}'),
        (b"/v1/regions/R-U%00", [AUTH, JSON], b'{"name": "ok"}'),
    ],
    ids=["body-value", "body-key", "auth-header", "query-and-body", "path", "path-surrogate",
         "path-nul"],
)  # fmt: skip
async def test_invalid_utf8_in_a_write_is_4xx_problem(base_url, operator, target, headers, body):
    method = "PATCH" if target.startswith(b"/v1/regions/") else "POST"

    reply = await raw_request(base_url, method, target, headers, body)

    assert 400 <= reply.status < 500
    assert reply.problem["status"] == reply.status
    assert (await operator.get("/v1/regions/R-U")).status == 404


async def test_a_content_type_that_is_not_utf8_is_ignored(base_url, operator):
    reply = await raw_request(
        base_url, "POST", b"/v1/regions",
        [AUTH, (b"Content-Type", b"application/json; charset=\xff")],
        b'{"code": "R-CT", "name": "ok"}',
    )  # fmt: skip

    assert reply.status == 201
    assert (await operator.get("/v1/regions/R-CT")).body["name"] == "ok"


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        (b"/v1/commodities/%FF%FE", [AUTH]),
        (b"/v1/commodities/%ED%A0%80", [AUTH]),
        (b"/v1/participants/%FF", [AUTH]),
        (b"/v1/commodities?cursor=%FF%FE", [AUTH]),
        (b"/v1/commodities?limit=%FF", [AUTH]),
        (b"/v1/commodities?%FF=1", [AUTH]),
        (b"/v1/commodities?cursor=%ED%A0%80", [AUTH]),
        (b"/v1/me", [(b"Authorization", b"Bearer \xed\xa0\x80")]),
        (b"/v1/me", [(b"Authorization", b"\xff\xfe \xff")]),
        (b"/v1/me", [AUTH, (b"X-Request-Id", b"\xff\xfe")]),
        (b"/v1/me", [AUTH, (b"Accept", b"\xff")]),
    ],
)
async def test_invalid_utf8_in_a_get_is_4xx_problem_or_ignored(base_url, target, headers):
    reply = await raw_request(base_url, "GET", target, headers)

    assert reply.status < 500
    if reply.status >= 400:
        assert reply.problem["status"] == reply.status
    else:  # a header the center does not read, or one it replaces (X-Request-Id)
        assert target == b"/v1/me"
        assert reply.headers["x-request-id"].isascii()


@pytest.mark.parametrize(
    "target", [b"/v1/commodities/\xff\xfe", b"/v1/commodities?cursor=\xff", b"/v1/\xed\xa0\x80"]
)
async def test_raw_bytes_in_the_request_line_are_400(base_url, target):
    # aiohttp's HTTP parser refuses these before the application sees the request
    reply = await raw_request(base_url, "GET", target, [AUTH])

    assert reply.status == 400


async def test_a_bad_order_among_valid_orders_of_other_firms_fails_none_of_them(operator, desk):
    code = desk["commodity"]
    firms = await asyncio.gather(
        *(new_participant(operator, ["supplier"], home_region="EU-AB") for _ in range(40))
    )
    _, bad_firm = await new_participant(operator, ["buyer"], home_region="EU-AB")

    def offer(i: int) -> dict:
        return {"client_order_id": unique("ok-"), "commodity": code, "side": "sell",
                "price": f"{1000 + i}.00", "quantity": "1"}  # fmt: skip

    bad = [
        {"price": "999999999999999999.99", "quantity": "1"},  # ticks beyond a bigint
        {"price": "1000000000.00", "quantity": "999999999999"},  # amount beyond a bigint
        {"price": "1.00", "quantity": "1", "time_in_force": "gtd",
         "expires_at": "9999-12-31T23:59:59Z"},  # beyond 64-bit nanoseconds
    ]  # fmt: skip
    calls = [client.post("/v1/orders", offer(i)) for i, (_, client) in enumerate(firms)]
    for n, change in enumerate(bad):
        body = {"client_order_id": unique("bad-"), "commodity": code, "side": "buy"} | change
        calls.insert(10 + 10 * n, bad_firm.post("/v1/orders", body))  # at 10, 20 and 30

    replies = await asyncio.gather(*calls)
    bad_replies = [replies[10], replies[20], replies[30]]
    good_replies = [r for i, r in enumerate(replies) if i not in (10, 20, 30)]

    assert [r.status for r in good_replies] == [201] * 40
    assert [(r.status, r.code) for r in bad_replies] == [(422, "OUT_OF_RANGE")] * 3
    book = await operator.get(f"/v1/markets/{code}/book", depth="100")
    assert len(book.body["asks"]) == 40
