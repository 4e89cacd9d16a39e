"""What goes wrong in the node agent."""

from __future__ import annotations


class CommandError(ValueError):
    """A line typed at the agent is not a command it knows, or its arguments are wrong."""


class CenterRefusedError(Exception):
    """The center answered a request with a 4xx problem."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class CenterUnavailableError(Exception):
    """The center could not be reached, or answered 5xx: try again later."""
