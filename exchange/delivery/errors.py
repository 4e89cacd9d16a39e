"""Errors of nodes, lanes, delivery tasks and alerts, each with a stable `code`."""

from __future__ import annotations

from exchange.errors import ConflictError, NotFoundError, UnprocessableError


class UnknownNodeError(NotFoundError):
    code = "UNKNOWN_NODE"
    title = "No such node"


class DuplicateNodeError(ConflictError):
    code = "DUPLICATE_NODE"
    title = "A node with this code exists"


class UnknownTaskError(NotFoundError):
    code = "UNKNOWN_TASK"
    title = "No such delivery task"


class InvalidTaskTransitionError(ConflictError):
    code = "INVALID_TASK_TRANSITION"
    title = "The event does not follow from the task's status"


class WrongDeliveryCodeError(UnprocessableError):
    code = "WRONG_DELIVERY_CODE"
    title = "The delivery code is not the buyer's"


class UnknownAlertError(NotFoundError):
    code = "UNKNOWN_ALERT"
    title = "No such alert"
