"""Typed keys for what the application holds; no module-level singletons."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from aiohttp import web

from exchange.auth import Authenticator, Principal
from exchange.config import Settings
from exchange.contracts.signing import Signer
from exchange.market.data import MarketData
from exchange.metrics import Metrics
from exchange.orders.books import Books
from exchange.ratelimit import RateLimiter


@dataclass
class Lifecycle:
    """Whether the app may take traffic: not before start-up ends, not while draining."""

    started: bool = False
    draining: bool = False
    checks: dict[str, str] = field(default_factory=dict)


SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
METRICS = web.AppKey("metrics", Metrics)
LIMITER = web.AppKey("limiter", RateLimiter)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
OPENAPI = web.AppKey("openapi", bytes)
MARKET = web.AppKey("market", MarketData)
BOOKS = web.AppKey("books", Books)
AUTH = web.AppKey("auth", Authenticator)
SIGNER = web.AppKey("signer", Signer)

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
