"""Typed keys for what the application holds; no module-level singletons."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web

from exchange.auth import Authenticator, Principal
from exchange.clock import Clock
from exchange.config import Settings
from exchange.contracts.signing import Signer
from exchange.db.health import DatabaseHealth
from exchange.delivery.outcomes import OutcomeSweep
from exchange.delivery.routing import RoutingSweep
from exchange.market.data import MarketData
from exchange.metrics import Metrics
from exchange.negotiation.channel import RfqChannel
from exchange.negotiation.closing import RfqClosing
from exchange.orders.books import Books
from exchange.payments.deadlines import DeadlineSweep
from exchange.payments.payouts import Payouts
from exchange.ratelimit import Limits


@dataclass
class Lifecycle:
    """Whether the app may take traffic: not before start-up ends, not while draining."""

    started: bool = False
    draining: bool = False
    checks: dict[str, str] = field(default_factory=dict)
    # the tasks running a request now: cut once the shutdown timeout has passed
    in_flight: set[asyncio.Task[object]] = field(default_factory=set)


class Runtime:
    """What start-up provides once it is done (read only when LIFECYCLE says started).

    The app is frozen once it runs, so what start-up creates hangs on this object instead."""

    pool: asyncpg.Pool
    auth: Authenticator
    signer: Signer
    books: Books


SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
METRICS = web.AppKey("metrics", Metrics)
LIMITER = web.AppKey("limiter", Limits)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
OPENAPI = web.AppKey("openapi", bytes)
MARKET = web.AppKey("market", MarketData)
CLOCK = web.AppKey("clock", Clock)  # every rule that depends on time reads this one
DB_HEALTH = web.AppKey("db_health", DatabaseHealth)
PAYOUTS = web.AppKey("payouts", Payouts)  # withdrawals to the designated bank
BOOT = web.AppKey("boot", asyncio.Task)  # start-up: database, market data, books
DEADLINES = web.AppKey("deadlines", DeadlineSweep)  # payment reminders and defaults
ROUTING = web.AppKey("routing", RoutingSweep)  # delivery tasks made and routed to nodes
OUTCOMES = web.AppKey("outcomes", OutcomeSweep)  # auto-acceptance, pro rata on silence
RFQ_CHANNEL = web.AppKey("rfq_channel", RfqChannel)  # the rfqs WebSocket channel
RFQ_CLOSING = web.AppKey("rfq_closing", RfqClosing)  # auto-award and expiry of RFQs

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
