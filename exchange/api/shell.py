"""The one middleware: request ids, problem+json errors, access logs and metrics."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from exchange.api.endpoint import ENCODER
from exchange.appkeys import DB_HEALTH, LIFECYCLE, METRICS, PRINCIPAL, REQUEST_ID
from exchange.db.health import database_unavailable
from exchange.errors import ApiError, DatabaseUnavailableError
from exchange.logs import AccessLog
from exchange.messages.common import FieldError, Problem

log = structlog.get_logger("exchange.http")
_ACCESS = AccessLog()  # stateless apart from its logger and encoder
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# aiohttp's own refusals (no route, wrong method, body too large ...) get stable codes too
_HTTP_CODES = {
    400: "MALFORMED_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "BODY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None,
    request_id: str,
    field_errors: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An RFC 9457 problem document."""
    problem = Problem(
        title=title,
        status=status,
        code=code,
        detail=detail,
        request_id=request_id,
        errors=[FieldError(path=p, message=m) for p, m in field_errors] if field_errors else None,
    )
    return web.Response(
        body=ENCODER.encode(problem),
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )


def _api_problem(exc: ApiError, request_id: str) -> web.Response:
    return problem_response(
        exc.status, exc.code, exc.title, exc.detail, request_id, exc.field_errors, exc.headers
    )


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


async def _answer(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return _api_problem(exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(
            exc.status,
            _HTTP_CODES.get(exc.status, "HTTP_ERROR"),
            exc.reason,
            None,
            request_id,
            headers=headers,
        )
    except Exception as exc:
        if database_unavailable(exc):  # wherever it happened: 503, and watch for its return
            log.warning("database unavailable", request_id=request_id, error=repr(exc))
            request.app[DB_HEALTH].lost()
            return _api_problem(DatabaseUnavailableError(), request_id)
        log.exception("unhandled error", request_id=request_id, path=request.path)
        return problem_response(500, "INTERNAL_ERROR", "Internal server error", None, request_id)


@web.middleware
async def shell(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Wraps every request: id, error mapping, metrics, one access-log line."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    task = asyncio.current_task()
    in_flight = request.app[LIFECYCLE].in_flight
    if task is not None:
        in_flight.add(task)
    try:
        response = await _answer(request, handler, request_id)
    finally:
        in_flight.discard(task)
    elapsed = time.perf_counter() - started
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
    route = _route_name(request)
    request.app[METRICS].observe(request.method, route, response.status, elapsed)
    principal = request.get(PRINCIPAL)
    _ACCESS.write(
        request_id=request_id,
        method=request.method,
        route=route,
        status=response.status,
        ms=round(elapsed * 1000, 2),
        participant_id=principal.participant_id if principal else None,
    )
    return response
