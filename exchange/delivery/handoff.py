"""The delivery code at the door: a buyer-side process leaves the code for a task in a folder
that it shares with the node's driver (the node agent), one file per task, and the driver
reads it when it arrives. The center has no part in it: the code reaches the driver only
from the buyer's side, as a receiver hands it over.

A file `task-<id>.json` holds `{"task_id", "code", "receiver"}`; it is written to a temporary
name and renamed, so a reader sees the whole file or none.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import msgspec

DEFAULT_RECEIVER = "Goods-in desk"


class Handoff(msgspec.Struct, frozen=True, kw_only=True):
    """What the buyer's receiver hands the driver for one task."""

    task_id: int
    code: str
    receiver: str = DEFAULT_RECEIVER


def handoff_path(folder: Path, task_id: int) -> Path:
    return folder / f"task-{task_id}.json"


def leave_code(folder: Path, task_id: int, code: str, receiver: str = DEFAULT_RECEIVER) -> Path:
    """Leave the code for `task_id` in `folder` (atomically; replaces an earlier one)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = handoff_path(folder, task_id)
    body = msgspec.json.encode(Handoff(task_id=task_id, code=code, receiver=receiver))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".task-{task_id}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def read_code(folder: Path, task_id: int) -> Handoff | None:
    """The code left for `task_id`, or None while there is none (or it is not for that task)."""
    try:
        raw = handoff_path(folder, task_id).read_bytes()
    except FileNotFoundError:
        return None
    try:
        found = msgspec.json.decode(raw, type=Handoff)
    except msgspec.DecodeError:  # not ours: treat as absent rather than crash the driver
        return None
    return found if found.task_id == task_id else None
