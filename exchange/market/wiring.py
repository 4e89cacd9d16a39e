"""Hooks market information into the application: its AppKey, start, stop, socket shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from exchange.appkeys import MARKET, METRICS, RUNTIME, SETTINGS
from exchange.market.data import MarketData


async def market_data_lifespan(app: web.Application) -> AsyncIterator[None]:
    """Start market information once the database is up; stop it on the way down."""
    market = app[MARKET]
    await market.start(app[RUNTIME].pool)
    try:
        yield
    finally:
        await market.stop()


async def _close_sockets(app: web.Application) -> None:
    await app[MARKET].close_all(grace=min(5.0, app[SETTINGS].shutdown_timeout))


def install_market_data(app: web.Application) -> MarketData:
    """Create the app's `MarketData` (under MARKET); `market_data_lifespan` starts it."""
    market = MarketData(app[METRICS])
    app[MARKET] = market
    app.on_shutdown.append(_close_sockets)
    return market
