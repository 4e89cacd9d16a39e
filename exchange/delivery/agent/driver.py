"""The simulated driver: works one task through its plan (`plan.py`), posting each event to
the center after the plan's delay divided by the speed, and at the door waits for the buyer's
code in the handoff folder (`exchange/delivery/handoff.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exchange.delivery.agent.client import CenterClient
from exchange.delivery.agent.errors import CenterRefusedError, CenterUnavailableError
from exchange.delivery.agent.plan import Plan, Step
from exchange.delivery.agent.receipt import proof_sha256, receipt
from exchange.delivery.handoff import Handoff, read_code

POLL = 0.05  # how often the driver looks into the handoff folder (seconds)
RETRY_MAX = 5.0
# which step of a plan a task in this status has done last
_DONE = {"assigned": None, "accepted": "accepted", "picked_up": "picked_up",
         "in_transit": "in_transit"}  # fmt: skip


class TaskGone(Exception):
    """The task is no longer this node's to work (moved on, cancelled, refused)."""


def remaining(plan: Plan, status: str) -> list[Step]:
    """The steps of `plan` still to do for a task in `status` (resuming after a restart)."""
    done = _DONE.get(status)
    if done is None:
        return list(plan.steps)
    last = max(i for i, step in enumerate(plan.steps) if step.event in (done, "accepted"))
    return list(plan.steps[last + 1 :])


class Driver:
    def __init__(
        self,
        client: CenterClient,
        handoff: Path,
        speed: float,
        say: Callable[[str], None],
    ) -> None:
        self.client = client
        self.handoff = handoff
        self.speed = speed
        self.say = say

    async def drive(self, plan: Plan, status: str) -> None:
        """Work the task from `status` to the end of its plan; returns early if it is gone."""
        try:
            for step in remaining(plan, status):
                await asyncio.sleep(step.delay / self.speed)
                if step.event == "delivered":
                    await self._deliver(plan.task_id, step.fields["delivered_quantity"])
                else:
                    await self._post(plan.task_id, {"type": step.event, **step.fields})
        except TaskGone as gone:
            self.say(f"task {plan.task_id}: left off ({gone})")

    async def _post(self, task_id: int, body: dict[str, Any]) -> Any:
        """Post an event, retrying while the center cannot be reached."""
        wait = 0.1
        retried = False
        while True:
            try:
                answer = await self.client.post_event(task_id, body)
            except CenterUnavailableError as exc:
                self.say(f"task {task_id}: {body['type']} not sent yet ({exc}); retrying")
                await asyncio.sleep(wait)
                wait, retried = min(wait * 2, RETRY_MAX), True
                continue
            except CenterRefusedError as exc:
                if retried and exc.status == 409 and await self._applied(task_id, body["type"]):
                    return None  # our earlier attempt went through before the line dropped
                if exc.code == "WRONG_DELIVERY_CODE":
                    raise
                raise TaskGone(f"{body['type']} refused: {exc}") from None
            self.say(f"task {task_id}: {_said(body)}")
            return answer

    async def _applied(self, task_id: int, event: str) -> bool:
        try:
            task = await self.client.task(task_id)
        except (CenterRefusedError, CenterUnavailableError):
            return False
        return bool(task.get("status") == event)

    async def _deliver(self, task_id: int, quantity: str) -> None:
        refused: str | None = None
        while True:
            handoff = await self._code(task_id, refused)
            at = datetime.now(UTC)
            proof = proof_sha256(receipt(self.client.node, task_id, quantity, handoff.receiver, at))
            body = {
                "type": "delivered",
                "delivered_quantity": quantity,
                "receiver_name": handoff.receiver,
                "delivery_code": handoff.code,
                "proof_sha256": proof,
            }
            try:
                await self._post(task_id, body)
                return
            except CenterRefusedError as exc:  # only a wrong code comes back here
                self.say(f"task {task_id}: the receiver's code was refused ({exc.detail})")
                refused = handoff.code

    async def _code(self, task_id: int, refused: str | None) -> Handoff:
        """The code the buyer's receiver left for the task (another than `refused`)."""
        self.say(f"task {task_id}: at the door, waiting for the receiver's code")
        while True:
            found = read_code(self.handoff, task_id)
            if found is not None and found.code != refused:
                return found
            await asyncio.sleep(POLL)


def _said(body: dict[str, Any]) -> str:
    extra = {k: v for k, v in body.items() if k not in ("type", "delivery_code", "proof_sha256")}
    detail = " ".join(f"{k}={v}" for k, v in extra.items())
    return f"{body['type']} {detail}".rstrip()
