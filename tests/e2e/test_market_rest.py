"""Market information over REST, on hand-computed trades inserted into PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest

from exchange.market.feed import CommittedBatch, LevelUpdate
from exchange.messages.orders import Side
from tests.e2e.market_support import insert_trades, new_commodity, spec_of, traders
from tests.factories import new_participant


@pytest.fixture(scope="module")
async def reader(operator):
    _, client = await new_participant(operator, ["node"])
    return client


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_candles_are_exact_ohlcv_per_utc_bucket(operator, reader, db):
    code = await new_commodity(operator)  # tick 0.50 EUR, lot 0.5 t
    spec = await spec_of(db, code)
    await insert_trades(
        db,
        spec,
        await traders(operator),
        [
            (1, 8000, 2, at("2024-03-01T10:00:10")),
            (2, 7990, 1, at("2024-03-01T10:00:30")),
            (3, 8010, 4, at("2024-03-01T10:00:50")),
            (4, 8020, 10, at("2024-03-01T10:02:00")),
            (5, 9000, 1, at("2024-03-01T11:00:00")),  # outside the asked range
        ],
    )
    path = f"/v1/markets/{code}/candles"

    minutes = await reader.get(path, interval="1m", **{"from": "2024-03-01T10:00:00Z"},
                               to="2024-03-01T10:05:00Z")  # fmt: skip
    hours = await reader.get(path, interval="1h", **{"from": "2024-03-01T10:20:00+00:00"},
                             to="2024-03-01T10:30:00Z")  # fmt: skip

    assert minutes.status == 200, minutes.body
    assert minutes.body == {
        "commodity": code,
        "interval": "1m",
        "candles": [
            {"start": "2024-03-01T10:00:00Z", "open": "4000.00", "high": "4005.00",
             "low": "3995.00", "close": "4005.00", "volume": "3.500000", "trades": 3},
            {"start": "2024-03-01T10:02:00Z", "open": "4010.00", "high": "4010.00",
             "low": "4010.00", "close": "4010.00", "volume": "5.000000", "trades": 1},
        ],
    }  # fmt: skip
    assert hours.body["candles"] == [
        {"start": "2024-03-01T10:00:00Z", "open": "4000.00", "high": "4010.00",
         "low": "3995.00", "close": "4010.00", "volume": "8.500000", "trades": 4},
    ]  # fmt: skip


async def test_index_is_the_exact_daily_vwap_rounded_half_up(operator, reader, db):
    code = await new_commodity(operator, tick_size="0.01")
    spec = await spec_of(db, code)
    await insert_trades(
        db,
        spec,
        await traders(operator),
        [
            (1, 400001, 1, at("2024-03-01T08:00:00")),
            (2, 400002, 1, at("2024-03-01T23:59:59")),  # 400001.5 -> 4000.02
            (3, 100, 1, at("2024-03-02T00:00:00")),
            (4, 101, 2, at("2024-03-02T12:00:00")),  # 302 / 3 = 100.67 -> 1.01
            (5, 999, 1, at("2024-03-04T00:00:00")),  # after the range
        ],
    )

    reply = await reader.get(f"/v1/markets/{code}/index", **{"from": "2024-02-28"},
                             to="2024-03-03")  # fmt: skip

    assert reply.status == 200, reply.body
    assert reply.body == {
        "commodity": code,
        "currency": "EUR",
        "points": [
            {"date": "2024-03-01", "vwap": "4000.02", "volume": "1.000000", "trades": 2},
            {"date": "2024-03-02", "vwap": "1.01", "volume": "1.500000", "trades": 2},
        ],
    }


async def test_ticker_has_top_of_book_last_trade_and_24h_statistics(operator, reader, db, market):
    code = await new_commodity(operator)
    quiet = await new_commodity(operator)
    spec = await spec_of(db, code)
    now = datetime.now(UTC)
    await insert_trades(
        db,
        spec,
        await traders(operator),
        [
            (1, 1000, 1, now - timedelta(hours=25)),
            (2, 1100, 2, now - timedelta(hours=3)),
            (3, 1050, 4, now - timedelta(hours=2)),
            (4, 1080, 1, now - timedelta(hours=1)),
        ],
    )
    market.book_loaded(spec, 5, [(1070, 4)], [(1090, 2)])

    ticker = await reader.get(f"/v1/markets/{code}/ticker")
    empty = await reader.get(f"/v1/markets/{quiet}/ticker")
    listing = await reader.get("/v1/markets", limit="500")

    assert ticker.status == 200, ticker.body
    assert ticker.body == {
        "commodity": code,
        "currency": "EUR",
        "best_bid": "535.00",
        "best_ask": "545.00",
        "book_sequence": 5,
        "last_price": "540.00",
        "last_quantity": "0.500000",
        "last_trade_at": ticker.body["last_trade_at"],
        "open_24h": "550.00",
        "high_24h": "550.00",
        "low_24h": "525.00",
        "change_24h": "-10.00",
        "volume_24h": "3.500000",
        "trades_24h": 3,
    }
    assert datetime.fromisoformat(ticker.body["last_trade_at"]) == now - timedelta(hours=1)
    assert empty.body == {
        "commodity": quiet, "currency": "EUR", "best_bid": None, "best_ask": None,
        "book_sequence": 0, "last_price": None, "last_quantity": None, "last_trade_at": None,
        "open_24h": None, "high_24h": None, "low_24h": None, "change_24h": None,
        "volume_24h": "0.000000", "trades_24h": 0,
    }  # fmt: skip
    by_code = {t["commodity"]: t for t in listing.body["data"]}
    assert by_code[code] == ticker.body
    assert by_code[quiet] == empty.body


async def test_markets_list_pages_by_commodity_code(operator, reader):
    for _ in range(3):
        await new_commodity(operator)

    first = await reader.get("/v1/markets", limit="2")
    second = await reader.get("/v1/markets", limit="2", cursor=first.body["next_cursor"])

    assert first.body["has_next"] is True
    codes = [t["commodity"] for t in first.body["data"] + second.body["data"]]
    assert codes == sorted(codes)
    assert len(set(codes)) == 4


async def test_tape_is_newest_first_paginated_and_names_no_party(operator, reader, db):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    base = at("2024-05-01T12:00:00")
    await insert_trades(
        db, spec, await traders(operator),
        [(i, 8000 + i, i, base + timedelta(seconds=i)) for i in range(1, 6)],
    )  # fmt: skip

    pages = []
    cursor = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        reply = await reader.get(f"/v1/markets/{code}/trades", **params)
        assert reply.status == 200, reply.body
        pages.append([t["id"] for t in reply.body["data"]])
        if not reply.body["has_next"]:
            break
        cursor = reply.body["next_cursor"]

    first = (await reader.get(f"/v1/markets/{code}/trades", limit="1")).body["data"][0]
    assert pages == [[5, 4], [3, 2], [1]]
    assert first == {
        "id": 5, "commodity": code, "price": "4002.50", "quantity": "2.500000",
        "taker_side": "buy", "executed_at": "2024-05-01T12:00:05Z", "void": False,
    }  # fmt: skip


async def test_book_is_the_committed_l2_view_at_depth(operator, reader, db, market):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    market.book_loaded(spec, 10, [(100, 2), (99, 4), (98, 6)], [(101, 1), (102, 3)])
    market.committed(
        spec,
        CommittedBatch(
            sequence=12,
            levels=[LevelUpdate(Side.BUY, 100, 0), LevelUpdate(Side.SELL, 101, 5)],
        ),
    )

    full = await reader.get(f"/v1/markets/{code}/book")
    top = await reader.get(f"/v1/markets/{code}/book", depth="1")

    assert full.body == {
        "commodity": code,
        "sequence": 12,
        "bids": [["49.50", "2.000000"], ["49.00", "3.000000"]],
        "asks": [["50.50", "2.500000"], ["51.00", "1.500000"]],
    }
    assert (top.body["bids"], top.body["asks"]) == (
        [["49.50", "2.000000"]],
        [["50.50", "2.500000"]],
    )


@pytest.mark.parametrize(
    ("suffix", "params", "code"),
    [
        ("candles", {"interval": "5m"}, "VALIDATION_FAILED"),
        ("candles", {"from": "2024-03-01T10:00:00"}, "VALIDATION_FAILED"),
        ("candles", {"from": "2024-03-02T00:00:00Z", "to": "2024-03-01T00:00:00Z"},
         "INVALID_RANGE"),
        ("candles", {"from": "2024-03-01T00:00:00Z", "to": "2024-03-03T00:00:00Z"},
         "RANGE_TOO_LARGE"),
        ("index", {"from": "2024-03-02", "to": "2024-03-01"}, "INVALID_RANGE"),
        ("index", {"from": "2023-01-01", "to": "2024-03-01"}, "RANGE_TOO_LARGE"),
        ("index", {"from": "yesterday"}, "VALIDATION_FAILED"),
        ("book", {"depth": "0"}, "VALIDATION_FAILED"),
        ("trades", {"limit": "501"}, "VALIDATION_FAILED"),
    ],
)  # fmt: skip
async def test_invalid_queries_are_422_with_a_code(operator, reader, suffix, params, code):
    commodity = await new_commodity(operator)

    reply = await reader.get(f"/v1/markets/{commodity}/{suffix}", **params)

    assert (reply.status, reply.code) == (422, code), reply.body


@pytest.mark.parametrize("suffix", ["book", "trades", "candles", "ticker", "index"])
async def test_unknown_commodity_is_404(reader, suffix):
    reply = await reader.get(f"/v1/markets/NO-SUCH-THING/{suffix}")

    assert (reply.status, reply.code) == (404, "UNKNOWN_COMMODITY")


async def test_market_information_needs_a_key(anonymous):
    reply = await anonymous.get("/v1/markets")

    assert (reply.status, reply.code) == (401, "UNAUTHENTICATED")
