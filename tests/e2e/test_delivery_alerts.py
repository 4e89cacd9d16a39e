"""Operator alerts: one open alert per kind and subject, listed until acknowledged."""

from __future__ import annotations

from tests.delivery_support import (  # noqa: F401
    delivery_center,
    desk,
    event,
    funded_contract,
    ledger_holds,
    manual_clock,
    register_node,
    route,
    task_of,
)


async def test_an_alert_is_listed_until_acknowledged(operator, clock, center):
    where = await desk(operator)
    made = await funded_contract(operator, clock, where)
    await route(center[1])
    task_id = (await task_of(operator, made["id"]))["task"]["id"]
    open_now = (await operator.get("/v1/alerts", limit="500")).body["data"]
    [alert] = [a for a in open_now if a["subject"] == f"task:{task_id}"]
    assert alert["kind"] == "no_node"
    assert alert["detail"] == {"task_id": str(task_id), "contract_id": str(made["id"])}

    reply = await operator.post(f"/v1/alerts/{alert['id']}/acknowledge")
    again = await operator.post(f"/v1/alerts/{alert['id']}/acknowledge")

    assert reply.status == 200, reply.body
    assert reply.body["acknowledged_at"] is not None
    assert again.body["acknowledged_at"] == reply.body["acknowledged_at"]
    me = (await operator.get("/v1/me")).body["participant"]["id"]
    assert reply.body["acknowledged_by"] == me
    still_open = (await operator.get("/v1/alerts", limit="500")).body["data"]
    assert alert["id"] not in [a["id"] for a in still_open]
    everything = (await operator.get("/v1/alerts", all="true", limit="500")).body["data"]
    assert alert["id"] in [a["id"] for a in everything]


async def test_acknowledging_an_unknown_alert_is_404(operator):
    reply = await operator.post("/v1/alerts/999999999/acknowledge")

    assert (reply.status, reply.code) == (404, "UNKNOWN_ALERT")


async def test_after_acknowledging_the_same_trouble_alerts_again(operator, clock, center):
    where = await desk(operator)
    _, node_api = await register_node(
        operator, [where.origin], [(where.origin, where.destination, where.code, "1.00")]
    )
    made = await funded_contract(operator, clock, where)
    await route(center[1])
    task_id = (await task_of(node_api, made["id"]))["task"]["id"]
    for kind in ("accepted", "picked_up"):
        assert (await event(node_api, task_id, kind)).status == 200
    wrong = {"delivered_quantity": "4", "receiver_name": "X", "delivery_code": "999999",
             "proof_sha256": "00" * 32}  # fmt: skip
    code = (await task_of(where.buyer_api, made["id"]))["task"]["delivery_code"]
    if code == "999999":
        wrong["delivery_code"] = "999998"

    for _ in range(4):
        assert (await event(node_api, task_id, "delivered", **wrong)).status == 422
    raised = [a for a in (await operator.get("/v1/alerts", all="true", limit="500")).body["data"]
              if a["subject"] == f"task:{task_id}"]  # fmt: skip
    assert len(raised) == 1  # the fourth wrong code finds the alert open
    assert (await operator.post(f"/v1/alerts/{raised[0]['id']}/acknowledge")).status == 200
    assert (await event(node_api, task_id, "delivered", **wrong)).status == 422

    after = [a for a in (await operator.get("/v1/alerts", limit="500")).body["data"]
             if a["subject"] == f"task:{task_id}"]  # fmt: skip
    assert [a["kind"] for a in after] == ["wrong_codes"]
    assert after[0]["id"] != raised[0]["id"]
