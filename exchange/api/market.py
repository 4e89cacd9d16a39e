"""Market information over REST: tickers, book depth, the tape, candles and the price index."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from exchange.api.endpoint import ANY_PARTICIPANT, Context, Routes
from exchange.appkeys import MARKET
from exchange.bounds import check_date, check_time
from exchange.errors import NotFoundError, UnprocessableError
from exchange.market import stats
from exchange.market.calc import INTERVALS, ceil_time, floor_time
from exchange.market.data import levels_of
from exchange.messages.common import Page, PageQuery
from exchange.messages.market import (
    Book,
    BookQuery,
    CandleQuery,
    Candles,
    IndexQuery,
    PriceIndex,
    Ticker,
)
from exchange.messages.orders import PublicTrade
from exchange.pagination import decode_cursor, encode_cursor, page_of
from exchange.reference import CommoditySpec

routes = Routes("market information")
MAX_CANDLES = 1000
DEFAULT_CANDLES = 100
MAX_INDEX_DAYS = 366
DEFAULT_INDEX_DAYS = 30


async def _commodity(ctx: Context) -> CommoditySpec:
    code = ctx.param("commodity")
    spec = await ctx.app[MARKET].spec(ctx.runtime.pool, code)
    if spec is None:
        raise NotFoundError(f"commodity {code!r} does not exist", code="UNKNOWN_COMMODITY")
    return spec


def _range_error(code: str, message: str) -> UnprocessableError:
    return UnprocessableError(message, code=code, field_errors=[("$.from", message)])


@routes.route(
    "GET",
    "/v1/markets",
    summary="Every commodity's ticker: best bid and ask, last price, 24-hour statistics",
    query=PageQuery,
    response=Page[Ticker],
    roles=ANY_PARTICIPANT,
)
async def list_markets(ctx: Context) -> Page[Ticker]:
    query: PageQuery = ctx.query
    pool, market = ctx.runtime.pool, ctx.app[MARKET]
    specs = await stats.list_specs(pool, decode_cursor(query.cursor, str), query.limit + 1)
    has_next = len(specs) > query.limit
    specs = specs[: query.limit]
    found = await stats.trade_stats(pool, [spec.id for spec in specs])
    tickers = [stats.ticker_of(spec, found[spec.id], market.views.get(spec.code)) for spec in specs]
    return Page(
        data=tickers,
        next_cursor=encode_cursor(specs[-1].code) if has_next else None,
        has_next=has_next,
    )


@routes.route(
    "GET",
    "/v1/markets/{commodity}/ticker",
    summary="One commodity's ticker",
    response=Ticker,
    roles=ANY_PARTICIPANT,
)
async def get_ticker(ctx: Context) -> Ticker:
    spec = await _commodity(ctx)
    found = await stats.trade_stats(ctx.runtime.pool, [spec.id])
    return stats.ticker_of(spec, found[spec.id], ctx.app[MARKET].views.get(spec.code))


@routes.route(
    "GET",
    "/v1/markets/{commodity}/book",
    summary="Aggregated order book depth as of the last committed batch",
    query=BookQuery,
    response=Book,
    roles=ANY_PARTICIPANT,
)
async def get_book(ctx: Context) -> Book:
    query: BookQuery = ctx.query
    spec = await _commodity(ctx)
    view = ctx.app[MARKET].view(spec.code)
    bids, asks = view.depth(query.depth)
    return Book(
        commodity=spec.code,
        sequence=view.sequence,
        bids=levels_of(spec, bids),
        asks=levels_of(spec, asks),
    )


@routes.route(
    "GET",
    "/v1/markets/{commodity}/trades",
    summary="The public trade tape, newest first",
    query=PageQuery,
    response=Page[PublicTrade],
    roles=ANY_PARTICIPANT,
)
async def list_trades(ctx: Context) -> Page[PublicTrade]:
    query: PageQuery = ctx.query
    spec = await _commodity(ctx)
    before = decode_cursor(query.cursor, int)
    trades = await stats.tape(ctx.runtime.pool, spec, before, query.limit + 1)
    return page_of(trades, query.limit, lambda t: t.id)


@routes.route(
    "GET",
    "/v1/markets/{commodity}/candles",
    summary="Price history: open, high, low, close and volume per interval (UTC buckets)",
    query=CandleQuery,
    response=Candles,
    roles=ANY_PARTICIPANT,
)
async def get_candles(ctx: Context) -> Candles:
    query: CandleQuery = ctx.query
    check_time(query.start, "from")
    check_time(query.end, "to")
    spec = await _commodity(ctx)
    step = INTERVALS[query.interval]
    now = datetime.now(UTC)
    end = ceil_time(query.end or now, step)
    start = floor_time(query.start, step) if query.start else end - DEFAULT_CANDLES * step
    if start >= end:
        raise _range_error("INVALID_RANGE", "from must be before to")
    if (end - start) // step > MAX_CANDLES:
        raise _range_error(
            "RANGE_TOO_LARGE", f"at most {MAX_CANDLES} candles per request; narrow the range"
        )
    found = await stats.candles(ctx.runtime.pool, spec, step, start, end)
    return Candles(commodity=spec.code, interval=query.interval, candles=found)


@routes.route(
    "GET",
    "/v1/markets/{commodity}/index",
    summary="The center's price index: volume-weighted average price per UTC day",
    query=IndexQuery,
    response=PriceIndex,
    roles=ANY_PARTICIPANT,
)
async def get_index(ctx: Context) -> PriceIndex:
    query: IndexQuery = ctx.query
    check_date(query.start, "from")
    check_date(query.end, "to")
    spec = await _commodity(ctx)
    last: date = query.end or datetime.now(UTC).date()
    first: date = query.start or last - timedelta(days=DEFAULT_INDEX_DAYS - 1)
    if first > last:
        raise _range_error("INVALID_RANGE", "from must not be after to")
    if (last - first).days + 1 > MAX_INDEX_DAYS:
        raise _range_error(
            "RANGE_TOO_LARGE", f"at most {MAX_INDEX_DAYS} days per request; narrow the range"
        )
    points = await stats.daily_vwap(ctx.runtime.pool, spec, first, last)
    return PriceIndex(commodity=spec.code, currency=spec.currency, points=points)
