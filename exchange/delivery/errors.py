"""Errors of nodes, lanes, delivery tasks and alerts, and of delivery's outcomes (acceptance,
shortage, claims, ratings), each with a stable `code`. (A contract in the wrong state for a
settlement step is payments' `CONTRACT_STATE_CONFLICT`.)"""

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


class DeliveredShortError(ConflictError):
    """Acceptance needs the whole quantity delivered; a short delivery is settled through
    `POST /v1/contracts/{id}/shortage`."""

    code = "DELIVERED_SHORT"
    title = "The delivery was short: settle the shortage instead"


class NotShortError(ConflictError):
    code = "NOT_SHORT"
    title = "The whole quantity was delivered: there is no shortage to settle"


class BackorderPendingError(ConflictError):
    code = "BACKORDER_PENDING"
    title = "The backorder of the rest is under way: wait for it (or its date)"


class BackorderUsedError(ConflictError):
    code = "BACKORDER_USED"
    title = "A backorder was delivered short already: only pro rata remains"


class ClaimWindowClosedError(ConflictError):
    code = "CLAIM_WINDOW_CLOSED"
    title = "The contract's claim window has closed"


class ClaimExistsError(ConflictError):
    code = "CLAIM_EXISTS"
    title = "The contract has a claim already"


class ClaimAnsweredError(ConflictError):
    code = "CLAIM_ANSWERED"
    title = "The claim has been answered or resolved already"


class ClaimResolvedError(ConflictError):
    code = "CLAIM_RESOLVED"
    title = "The claim has been resolved already"


class UnknownClaimError(NotFoundError):
    code = "UNKNOWN_CLAIM"
    title = "No such claim"


class NotRatableError(ConflictError):
    code = "NOT_RATABLE"
    title = "A contract is rated after it ends (completed, refunded or partially refunded)"


class AlreadyRatedError(ConflictError):
    code = "ALREADY_RATED"
    title = "This party has rated this contract already"
