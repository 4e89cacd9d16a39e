"""Errors the API turns into problem responses; each carries a stable `code`."""

from __future__ import annotations


class ApiError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    status = 500
    code = "INTERNAL_ERROR"
    title = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        field_errors: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        if code is not None:
            self.code = code
        self.headers = headers or {}
        self.field_errors = field_errors


class BadRequestError(ApiError):
    status = 400
    code = "MALFORMED_REQUEST"
    title = "The request body or parameters could not be read"


class UnauthenticatedError(ApiError):
    status = 401
    code = "UNAUTHENTICATED"
    title = "A valid API key is required"


class ForbiddenError(ApiError):
    status = 403
    code = "FORBIDDEN"
    title = "Not allowed for this participant"


class NotFoundError(ApiError):
    status = 404
    code = "NOT_FOUND"
    title = "No such resource"


class ConflictError(ApiError):
    status = 409
    code = "CONFLICT"
    title = "The request conflicts with the current state"


class UnprocessableError(ApiError):
    status = 422
    code = "VALIDATION_FAILED"
    title = "The request is well-formed but its content is invalid"


class RateLimitedError(ApiError):
    status = 429
    code = "RATE_LIMITED"
    title = "Too many requests"


class UnavailableError(ApiError):
    """Not now (starting, draining, database away): always tells when to retry."""

    status = 503
    code = "UNAVAILABLE"
    title = "The service is not ready"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: int = 1,
    ) -> None:
        retry = {"Retry-After": str(retry_after)}
        super().__init__(detail, code=code, headers=retry | (headers or {}))


class DatabaseUnavailableError(UnavailableError):
    """The database cannot be reached right now; a retry with the same ids never doubles."""

    title = "The database is unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail
            or "the database is unavailable; retry shortly (an order with the same client_order_id)"
        )


def invalid_field(code: str, field: str, message: str) -> UnprocessableError:
    """A 422 with a stable code, naming the body field (`$.field`) that is at fault."""
    return UnprocessableError(message, code=code, field_errors=[(f"$.{field}", message)])
