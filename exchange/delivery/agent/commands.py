"""The agent's commands typed by hand, parsed into what to do (pure: no I/O).

tasks                                   list this node's tasks
accept ID                               take the offered task
reject ID REASON...                     refuse it (it is offered to the next node)
pickup ID                               the goods are loaded
transit ID NOTE...                      a location note on the way
deliver ID QTY RECEIVER CODE [PROOF_FILE]
                                        handed over with the buyer's code; the proof is the
                                        SHA-256 of PROOF_FILE, or of a generated receipt
shortage ID QTY                         only QTY is available
fail ID REASON...                       give up on the task
quit                                    stop the agent
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.delivery.agent.errors import CommandError

HELP = textwrap.dedent(__doc__.split("\n\n", 1)[1]).strip() if __doc__ else ""
_QUANTITY = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,6})?$")
_CODE = re.compile(r"^[0-9A-Za-z]{1,32}$")
_MAX_TEXT = 500


@dataclass(frozen=True)
class ListTasks:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class TaskEvent:
    """An event to post for a task: `body` as `POST /v1/delivery-tasks/{id}/events` takes it
    (for `delivered` without `proof_sha256` yet when `proof_file` is to be hashed)."""

    task_id: int
    body: dict[str, Any]
    proof_file: Path | None = None


Command = ListTasks | Quit | Help | TaskEvent


def _task_id(word: str) -> int:
    if not word.isdigit() or len(word) > 18 or int(word) < 1:
        raise CommandError(f"task id must be a positive whole number, not {word!r}")
    return int(word)


def _quantity(word: str) -> str:
    if not _QUANTITY.match(word) or not word.strip("0."):
        raise CommandError(f"quantity must be a positive decimal like 12 or 12.5, not {word!r}")
    return word


def _text(words: list[str], what: str) -> str:
    text = " ".join(words).strip()
    if not text:
        raise CommandError(f"{what} is required")
    if len(text) > _MAX_TEXT:
        raise CommandError(f"{what} is longer than {_MAX_TEXT} characters")
    return text


# name -> (least words after the name, most words or None for free text, usage)
_SHAPES: dict[str, tuple[int, int | None, str]] = {
    "tasks": (0, 0, "tasks"),
    "help": (0, 0, "help"),
    "quit": (0, 0, "quit"),
    "accept": (1, 1, "accept ID"),
    "pickup": (1, 1, "pickup ID"),
    "reject": (2, None, "reject ID REASON"),
    "transit": (2, None, "transit ID NOTE"),
    "fail": (2, None, "fail ID REASON"),
    "shortage": (2, 2, "shortage ID QTY"),
    "deliver": (4, 5, "deliver ID QTY RECEIVER CODE [PROOF_FILE]"),
}


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:  # an unclosed quote
        raise CommandError(str(exc)) from None


def parse(line: str) -> Command | None:
    """The command on `line` (None for an empty line); raises `CommandError` saying why not."""
    words = _words(line)
    if not words:
        return None
    name, rest = words[0].lower(), words[1:]
    if name not in _SHAPES:
        raise CommandError(f"unknown command {words[0]!r} (try: help)")
    least, most, usage = _SHAPES[name]
    if len(rest) < least or (most is not None and len(rest) > most):
        raise CommandError(f"usage: {usage}")
    if name == "tasks":
        return ListTasks()
    if name == "help":
        return Help()
    if name == "quit":
        return Quit()
    return _event(name, _task_id(rest[0]), rest[1:])


def _event(name: str, task_id: int, rest: list[str]) -> TaskEvent:
    if name == "accept":
        return TaskEvent(task_id, {"type": "accepted"})
    if name == "pickup":
        return TaskEvent(task_id, {"type": "picked_up"})
    if name == "reject":
        return TaskEvent(task_id, {"type": "rejected", "reason": _text(rest, "reason")})
    if name == "transit":
        return TaskEvent(task_id, {"type": "in_transit", "location": _text(rest, "note")})
    if name == "fail":
        return TaskEvent(task_id, {"type": "failed", "reason": _text(rest, "reason")})
    if name == "shortage":
        body = {"type": "shortage", "available_quantity": _quantity(rest[0])}
        return TaskEvent(task_id, body)
    return _deliver(task_id, rest)


def _deliver(task_id: int, rest: list[str]) -> TaskEvent:
    quantity, receiver, code = _quantity(rest[0]), _text(rest[1:2], "receiver"), rest[2]
    if not _CODE.match(code):
        raise CommandError(f"the delivery code is letters and digits, not {code!r}")
    body = {
        "type": "delivered",
        "delivered_quantity": quantity,
        "receiver_name": receiver,
        "delivery_code": code,
    }
    return TaskEvent(task_id, body, Path(rest[3]) if len(rest) == 4 else None)
