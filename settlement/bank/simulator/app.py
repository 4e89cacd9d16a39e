"""The simulated bank's HTTP API under `/v1` (aiohttp). The books are `state.BankState`; this
module reads requests, calls it, answers, hands notifications to the `Notifier`, and plays the
fault plan's slow answers and returned payouts."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from settlement.bank.messages import (
    OpenAccount,
    SetClock,
    SimClock,
    TransferRequest,
    TransferStatus,
)
from settlement.bank.simulator.errors import (
    BankSimError,
    InvalidError,
    MalformedError,
    UnauthenticatedError,
)
from settlement.bank.simulator.faults import FaultKind, FaultPlan, FaultRates, FaultRecord
from settlement.bank.simulator.notifier import Notifier
from settlement.bank.simulator.state import BankState, Outcome

log = logging.getLogger("settlement.bank.simulator")

T = TypeVar("T")
Clock = Callable[[], datetime]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ENCODER = msgspec.json.Encoder()
_PUBLIC = frozenset({"/healthz"})


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SimConfig:
    """How `exchange bank-sim` was started."""

    api_key: str
    instance: str  # tags bank references and event ids, unique per run
    secret: bytes | None = None  # shared with the center (EXCHANGE_BANK_SECRET)
    notify_url: str | None = None
    account_prefix: str = "CENTER-"
    fault_seed: int | None = None
    fault_rates: FaultRates = field(default_factory=FaultRates)


@dataclass
class Simulator:
    config: SimConfig
    state: BankState
    clock: Clock
    plan: FaultPlan | None
    notifier: Notifier | None = None
    faults: list[FaultRecord] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    offset: timedelta = timedelta(0)  # moved by `POST /v1/clock`

    def now(self) -> datetime:
        """The bank's time: its clock plus the offset a test set (bookings, signatures)."""
        return self.clock() + self.offset

    def publish(self, outcome: Outcome) -> None:
        if self.notifier is not None and outcome.notifications:
            self.notifier.submit(outcome.notifications)


SIM = web.AppKey("bank_sim", Simulator)


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(body=_ENCODER.encode(value), status=status, content_type="application/json")


def _problem(status: int, code: str, title: str, detail: str) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "code": code}
    body["detail"] = detail
    return web.Response(
        body=_ENCODER.encode(body), status=status, content_type="application/problem+json"
    )


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE"}


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.path not in _PUBLIC:
            _authenticate(request)
        return await handler(request)
    except BankSimError as exc:
        return _problem(exc.status, exc.code, exc.title, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, f"HTTP_{exc.status}")
        return _problem(exc.status, code, exc.reason, exc.text or exc.reason)
    except Exception:
        log.exception("request failed: %s %s", request.method, request.path)
        return _problem(500, "INTERNAL_ERROR", "Internal server error", "see the simulator's log")


def _authenticate(request: web.Request) -> None:
    expected = request.app[SIM].config.api_key
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(key.encode(), expected.encode()):
        raise UnauthenticatedError("UNAUTHENTICATED", "send Authorization: Bearer <api key>")


async def _decode(request: web.Request, kind: type[T]) -> T:
    body = await request.read()
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidError("VALIDATION_FAILED", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise MalformedError("MALFORMED_JSON", str(exc)) from None


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def open_account(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return _json(sim.state.open_account(await _decode(request, OpenAccount)), 201)


async def get_account(request: web.Request) -> web.Response:
    return _json(request.app[SIM].state.account(request.match_info["number"]))


async def close_account(request: web.Request) -> web.Response:
    return _json(request.app[SIM].state.close_account(request.match_info["number"]))


async def statement(request: web.Request) -> web.Response:
    text = request.query.get("date", "")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidError("INVALID_DATE", "give ?date=YYYY-MM-DD (a UTC day)") from None
    return _json(request.app[SIM].state.statement(request.match_info["number"], day))


async def transfer(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    order = await _decode(request, TransferRequest)
    outcome = sim.state.transfer(order, sim.now())
    if outcome.replayed:
        return _json(outcome.result)
    sim.publish(outcome)
    plan = sim.plan
    if plan is not None:
        executed = outcome.result.status is TransferStatus.EXECUTED
        if executed and outcome.center_payout and plan.returns(order.end_to_end_id):
            _spawn(sim, _return_later(sim, order.end_to_end_id, plan.rates.return_after_seconds))
        if executed and plan.times_out(order.end_to_end_id):
            sim.faults.append(
                FaultRecord(fault=FaultKind.TIMEOUT, end_to_end_id=order.end_to_end_id)
            )
            await asyncio.sleep(plan.rates.answer_delay_seconds)  # booked; the answer is late
    return _json(outcome.result, 201)


async def get_transfer(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return _json(sim.state.transfer_result(request.match_info["end_to_end_id"]))


async def return_transfer(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    outcome = sim.state.return_transfer(request.match_info["end_to_end_id"], sim.now())
    sim.publish(outcome)
    return _json(outcome.result)


def _clock_view(sim: Simulator) -> SimClock:
    return SimClock(offset_seconds=int(sim.offset.total_seconds()), now=sim.now())


async def get_clock(request: web.Request) -> web.Response:
    """The simulator's time and its offset from the system clock (administration)."""
    return _json(_clock_view(request.app[SIM]))


async def set_clock(request: web.Request) -> web.Response:
    """Set the offset from the system clock, so that the bank's bookings and the times it signs
    its notifications at keep in step with a center whose clock a test moved (administration)."""
    sim = request.app[SIM]
    wanted = await _decode(request, SetClock)
    sim.offset = timedelta(seconds=wanted.offset_seconds)
    log.info("clock offset set to %d s", wanted.offset_seconds)
    return _json(_clock_view(sim))


async def faults(request: web.Request) -> web.Response:
    """The faults produced so far, in order (administration, for tests and demos)."""
    sim = request.app[SIM]
    return _json({"seed": sim.config.fault_seed, "faults": sim.faults})


async def deliveries(request: web.Request) -> web.Response:
    """How far delivery has got: `pending` copies (queued, held, delayed, being sent) and
    `planned_returns` (fault mode) are still to come (administration)."""
    sim = request.app[SIM]
    notifier = sim.notifier
    return _json(
        {
            "pending": notifier.pending if notifier else 0,
            "delivered": notifier.delivered if notifier else 0,
            "abandoned": notifier.abandoned if notifier else 0,
            "planned_returns": len(sim.tasks),
        }
    )


def _spawn(sim: Simulator, coroutine: Any) -> None:
    task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
    sim.tasks.add(task)
    task.add_done_callback(sim.tasks.discard)


async def _return_later(sim: Simulator, end_to_end_id: str, after: float) -> None:
    await asyncio.sleep(after)
    try:
        outcome = sim.state.return_transfer(end_to_end_id, sim.now())
    except BankSimError as exc:  # returned by hand meanwhile, or the money moved on
        log.info("planned return of %s skipped: %s", end_to_end_id, exc)
        return
    sim.faults.append(FaultRecord(fault=FaultKind.RETURNED, end_to_end_id=end_to_end_id))
    sim.publish(outcome)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    sim = app[SIM]
    if sim.notifier is not None:
        await sim.notifier.start()
    try:
        yield
    finally:
        for task in list(sim.tasks):
            task.cancel()
        await asyncio.gather(*sim.tasks, return_exceptions=True)
        if sim.notifier is not None:
            await sim.notifier.stop()


def create_app(config: SimConfig, clock: Clock = system_clock) -> web.Application:
    """The simulator's aiohttp application (notifications go out while it runs)."""
    plan = None if config.fault_seed is None else FaultPlan(config.fault_seed, config.fault_rates)
    sim = Simulator(config, BankState(config.instance, config.account_prefix), clock, plan)
    if config.notify_url is not None:
        if config.secret is None:
            raise ValueError("notifications need the shared secret")
        sim.notifier = Notifier(
            config.notify_url,
            config.secret,
            plan,
            record=sim.faults.append,
            now=lambda: sim.now().timestamp(),
        )
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024)
    app[SIM] = sim
    app.cleanup_ctx.append(_lifetime)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/v1/accounts", open_account)
    app.router.add_get("/v1/accounts/{number}", get_account)
    app.router.add_post("/v1/accounts/{number}/close", close_account)
    app.router.add_get("/v1/accounts/{number}/statement", statement)
    app.router.add_post("/v1/transfers", transfer)
    app.router.add_get("/v1/transfers/{end_to_end_id}", get_transfer)
    app.router.add_post("/v1/transfers/{end_to_end_id}/return", return_transfer)
    app.router.add_get("/v1/faults", faults)
    app.router.add_get("/v1/notifications", deliveries)
    app.router.add_get("/v1/clock", get_clock)
    app.router.add_post("/v1/clock", set_clock)
    return app
