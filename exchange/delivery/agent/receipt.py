"""The receipt a driver writes at the door, and its SHA-256 as the proof of delivery (pure)."""

from __future__ import annotations

import hashlib
from datetime import datetime


def receipt(node: str, task_id: int, quantity: str, receiver: str, at: datetime) -> bytes:
    """The text of a delivery receipt (UTF-8)."""
    lines = [
        "DELIVERY RECEIPT",
        f"node: {node}",
        f"task: {task_id}",
        f"quantity delivered: {quantity}",
        f"received by: {receiver}",
        f"at: {at.isoformat()}",
    ]
    return ("\n".join(lines) + "\n").encode()


def proof_sha256(content: bytes) -> str:
    """The proof of delivery the center records: SHA-256 hex of the receipt or photo."""
    return hashlib.sha256(content).hexdigest()
