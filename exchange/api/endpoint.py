"""Declared endpoints: one table drives routing, auth, decoding and the OpenAPI document."""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from exchange.appkeys import DB_HEALTH, LIFECYCLE, LIMITER, PRINCIPAL, REQUEST_ID, RUNTIME, Runtime
from exchange.audit import audit
from exchange.auth import Principal
from exchange.bounds import is_text
from exchange.db import Conn
from exchange.errors import (
    BadRequestError,
    DatabaseUnavailableError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnauthenticatedError,
    UnavailableError,
    UnprocessableError,
)
from exchange.idempotency import HEADER, AnsweredBeforeError, Idempotency, KeyClaim, read_key
from exchange.idempotency import request_hash as hash_of
from exchange.messages.participants import Role
from exchange.ratelimit import retry_after

ENCODER = msgspec.json.Encoder()
_PATH_OF_ERROR = re.compile(r" - at `(\$[^`]*)`$")
# a JSON string escape of U+0000 (not an escaped backslash followed by "u0000")
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_ASCII_ID = re.compile(r"[0-9]{1,18}")  # fullmatch: "\d" and "$" let through more


T = TypeVar("T")


@dataclass(slots=True)
class Context:
    """What a handler gets: the request, who is calling, and the decoded input."""

    request: web.Request
    principal: Principal | None
    body: Any
    query: Any
    key_claim: KeyClaim | None = None  # the request's Idempotency-Key, if it sent one

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def runtime(self) -> Runtime:
        """The pool, books, signer and key cache that start-up provided."""
        return self.request.app[RUNTIME]

    @property
    def request_id(self) -> str:
        return self.request[REQUEST_ID]

    @property
    def caller(self) -> Principal:
        """The authenticated caller (endpoints without auth have none)."""
        assert self.principal is not None, "endpoint declared without authentication"
        return self.principal

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A pooled connection inside a transaction: all of it commits, or none."""
        async with self.app[RUNTIME].pool.acquire() as conn, conn.transaction():
            if self.key_claim is not None:
                await self.key_claim.claim(conn)  # a retry's answer, or 409, or ours to give
            yield conn

    async def remember(self, conn: Conn, result: T) -> T:
        """Store the answer to this request's Idempotency-Key in the effect's transaction
        (endpoints that declare the key call this before their transaction ends)."""
        if self.key_claim is not None:
            await self.key_claim.remember(conn, ENCODER.encode(result))
        return result

    async def audit(
        self, conn: Conn, action: str, target: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record the caller's change in the audit trail, inside its transaction."""
        await audit(
            conn, self.caller.participant_id, action, target, detail, self.request[REQUEST_ID]
        )

    def param(self, name: str) -> str:
        """A text path parameter; one that is not text (NUL, bad UTF-8) names nothing, so 404."""
        text = self.request.match_info[name]
        if not is_text(text):
            raise NotFoundError(f"no resource named {text!r}")
        return text

    def int_param(self, name: str) -> int:
        """A numeric path parameter (ASCII digits); anything else cannot name a resource, 404."""
        text = self.request.match_info[name]
        if not _ASCII_ID.fullmatch(text):
            raise NotFoundError(f"no resource with id {text!r}")
        return int(text)


Handler = Callable[[Context], Awaitable[Any]]


class Anyone(enum.Enum):
    """The access rule of an endpoint open to every authenticated participant, whatever its
    roles (an endpoint declares this, or roles, or public=True: none is implied)."""

    PARTICIPANT = "any authenticated participant"


ANY_PARTICIPANT = Anyone.PARTICIPANT


@dataclass(frozen=True, slots=True)
class Owned:
    """The path parameter `param` names a resource that belongs to a party: any other caller
    gets 404, as if it did not exist (operators too, unless `operators`)."""

    param: str
    operators: bool = False


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: frozenset[Role] | None  # None: any authenticated participant (or public)
    public: bool
    body: Any
    query: Any
    response: Any
    status: int
    errors: tuple[int, ...]
    content_type: str
    declared: bool = False  # an access rule was given: public, roles or ANY_PARTICIPANT
    owned: Owned | None = None
    # no API key: the handler checks a signature on the raw body, then decodes `body` itself
    signed: bool = False
    idempotency: Idempotency | None = None  # takes an Idempotency-Key header

    def error_statuses(self) -> list[int]:
        """Every error status this endpoint can answer with."""
        statuses = set(self.errors) | {500}
        if not self.public:
            statuses |= {401, 403, 429, 503}  # 503: starting, or the database is away
        if self.signed:
            statuses |= {401, 503}
        if self.body is not None or self.query is not None:
            statuses |= {400, 422}
        if self.body is not None:
            statuses.add(413)  # larger than the application's client_max_size
        if "{" in self.path:
            statuses.add(404)
        if self.idempotency is not None:
            statuses |= {400, 409}
        return sorted(statuses)


class Routes:
    """A table of endpoints, declared with the `route` decorator next to their handlers."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        roles: Iterable[Role] | Anyone | None = None,
        public: bool = False,
        owned: Owned | None = None,
        signed: bool = False,
        idempotency: Idempotency | None = None,
        body: Any = None,
        query: Any = None,
        response: Any = None,
        status: int = 200,
        errors: Iterable[int] = (),
        content_type: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=self.tag,
                    roles=None if roles is None or roles is ANY_PARTICIPANT else frozenset(roles),
                    public=public,
                    declared=public or roles is not None,
                    owned=owned,
                    signed=signed,
                    idempotency=idempotency,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    errors=tuple(errors),
                    content_type=content_type,
                )
            )
            return handler

        return register


def validation_error(exc: msgspec.ValidationError) -> UnprocessableError:
    """A 422 naming the field, from msgspec's message."""
    message = str(exc)
    match = _PATH_OF_ERROR.search(message)
    path = match[1] if match else "$"
    text = message[: match.start()] if match else message
    return UnprocessableError(f"{text} (at {path})", field_errors=[(path, text)])


def _decode_body(endpoint: Endpoint, raw: bytes) -> Any:
    return decode_json(raw, endpoint.body)


def decode_json(raw: bytes, kind: Any) -> Any:
    """A request body as `kind`: 400 if it is not JSON, 422 naming the field if it does not fit."""
    if not raw:
        raw = b"{}"
    try:
        body = msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        # fields whose schema forbids NUL refuse it here: the same answer as everywhere else
        raise _nul_text() if _holds_nul(raw) else validation_error(exc) from None
    except msgspec.DecodeError as exc:
        raise BadRequestError(f"the body is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise BadRequestError("the body is not valid UTF-8", code="INVALID_UTF8") from None
    if _holds_nul(raw):
        raise _nul_text()
    return body


def _holds_nul(raw: bytes) -> bool:
    return b"\\u0000" in raw and _NUL_ESCAPE.search(raw) is not None


def _nul_text() -> UnprocessableError:
    return UnprocessableError(
        "text may not contain the NUL character (\\u0000)", code="INVALID_TEXT"
    )


def _decode_query(endpoint: Endpoint, request: web.Request) -> Any:
    params: dict[str, str] = {}
    for name, value in request.query.items():
        if not (is_text(name) and is_text(value)):
            raise BadRequestError(
                "the query string holds something that is not text (NUL, bad UTF-8)",
                code="INVALID_TEXT",
            )
        if name in params:
            raise BadRequestError(f"query parameter {name!r} is given more than once")
        params[name] = value
    try:
        return msgspec.convert(params, type=endpoint.query, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None


def _limited(wait: float, detail: str) -> None:
    if wait:
        raise RateLimitedError(
            f"{detail}; retry in {wait:.2f} s", headers={"Retry-After": retry_after(wait)}
        )


async def _principal(request: web.Request, token: str) -> Principal:
    """Who holds the key. A lookup that finds nothing counts against the client's address,
    and an address with too many of them gets 429 before any further lookup."""
    auth = request.app[RUNTIME].auth
    known = auth.cached(token)
    if known is not None:
        return known
    failures = request.app[LIMITER].failed_auth
    address = request.remote or ""
    _limited(failures.wait(address), "too many failed authentications from this address")
    principal = await auth.principal(token)
    if principal is None:
        failures.take(address)
        raise UnauthenticatedError(
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return principal


async def _authorise(endpoint: Endpoint, request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    # API keys are ASCII; other bytes cannot be one (and must not reach the key hash)
    if scheme.lower() != "bearer" or not token.strip() or not header.isascii():
        raise UnauthenticatedError(
            "send 'Authorization: Bearer <api key>'", headers={"WWW-Authenticate": "Bearer"}
        )
    principal = await _principal(request, token.strip())
    request[PRINCIPAL] = principal
    # per participant, not per key: more keys do not buy more requests
    _limited(request.app[LIMITER].participants.take(principal.participant_id), "slow down")
    if principal.suspended:
        raise ForbiddenError("the participant is suspended", code="PARTICIPANT_SUSPENDED")
    if endpoint.roles is not None and not endpoint.roles & principal.roles:
        wanted = " or ".join(sorted(endpoint.roles))
        raise ForbiddenError(f"this needs the {wanted} role", code="ROLE_REQUIRED")
    return principal


def to_aiohttp(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler that authenticates, decodes, calls and encodes."""

    async def handle(request: web.Request) -> web.StreamResponse:
        needs_database = not endpoint.public or endpoint.signed
        if needs_database and not request.app[LIFECYCLE].started:
            raise UnavailableError(
                "the center is starting; retry shortly",
                code="STARTING",
            )
        if needs_database and not request.app[DB_HEALTH].available:
            raise DatabaseUnavailableError()
        principal = None if endpoint.public else await _authorise(endpoint, request)
        body = None
        if endpoint.body is not None and not endpoint.signed:
            body = _decode_body(endpoint, await request.read())
        query = _decode_query(endpoint, request) if endpoint.query is not None else None
        try:
            claim = await _key_claim(endpoint, request, principal, body)
            result = await endpoint.handler(Context(request, principal, body, query, claim))
        except AnsweredBeforeError as answered:
            return _answer(answered.status, answered.body, replayed=True)
        if claim is not None:
            assert claim.answer is not None, f"{endpoint.handler.__name__} did not remember"
            return _answer(*claim.answer, replayed=False)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=endpoint.status)
        return web.Response(
            body=ENCODER.encode(result), status=endpoint.status, content_type="application/json"
        )

    return handle


async def _key_claim(
    endpoint: Endpoint, request: web.Request, principal: Principal | None, body: Any
) -> KeyClaim | None:
    """The request's Idempotency-Key; an earlier answer to it is raised at once."""
    if endpoint.idempotency is None or principal is None:
        return None
    key = read_key(request.headers.get(HEADER), endpoint.idempotency)
    if key is None:
        return None
    canonical = ENCODER.encode(body) if body is not None else b""
    operation = f"{request.method} {request.path}"
    claim = KeyClaim(principal.participant_id, key, operation, hash_of(canonical), endpoint.status)
    await claim.check(request.app[RUNTIME].pool)
    return claim


def _answer(status: int, body: bytes, *, replayed: bool) -> web.Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def _method_not_allowed(
    methods: list[str],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def refuse(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMethodNotAllowed(request.method, methods)

    return refuse


def add_routes(router: web.UrlDispatcher, endpoints: list[Endpoint]) -> None:
    """One aiohttp resource per path, literal paths first, each refusing other methods itself.

    Without the catch-all, `/v1/orders/batch` would also match `/v1/orders/{order_id}`: a GET
    would reach the order handler and a 405 would list the methods of both paths.
    """
    by_path: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        by_path.setdefault(endpoint.path, []).append(endpoint)
    for path in sorted(by_path, key=lambda p: "{" in p):  # stable: literal paths first
        resource = router.add_resource(path)
        for endpoint in by_path[path]:
            resource.add_route(endpoint.method, to_aiohttp(endpoint))
        allowed = sorted({endpoint.method for endpoint in by_path[path]})
        resource.add_route("*", _method_not_allowed(allowed))
