"""Errors of the bank simulator; the API answers each as `application/problem+json` with its
HTTP status and stable `code`."""

from __future__ import annotations


class BankSimError(Exception):
    """A request the simulated bank refuses; nothing was changed."""

    status = 400
    title = "Bad request"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class MalformedError(BankSimError):
    status = 400
    title = "The request could not be read"


class UnauthenticatedError(BankSimError):
    status = 401
    title = "A valid API key is required"


class UnknownError(BankSimError):
    status = 404
    title = "No such resource"


class ConflictError(BankSimError):
    status = 409
    title = "The request conflicts with the bank's state"


class InvalidError(BankSimError):
    status = 422
    title = "The request is well-formed but its content is invalid"
