"""The role matrix: who may call what."""

import pytest

from tests.factories import commodity_body, new_participant


async def test_no_key_is_401(anonymous):
    reply = await anonymous.get("/v1/me")

    assert reply.status == 401
    assert reply.code == "UNAUTHENTICATED"
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert reply.body["request_id"] == reply.headers["X-Request-Id"]


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer    ", "tck_nobearer"])
async def test_malformed_authorization_is_401(anonymous, header):
    async with anonymous.http.get(
        anonymous.base_url + "/v1/me", headers={"Authorization": header}
    ) as response:
        body = await response.json(content_type=None)

    assert response.status == 401
    assert body["code"] == "UNAUTHENTICATED"


async def test_unknown_key_is_401(anonymous):
    reply = await anonymous.with_key("tck_not-a-key-anyone-was-given").get("/v1/me")

    assert reply.status == 401
    assert reply.code == "UNAUTHENTICATED"


async def test_wrong_role_is_403(operator):
    _, buyer = await new_participant(operator, ["buyer"])

    create = await buyer.post("/v1/commodities", commodity_body())
    listing = await buyer.get("/v1/participants")

    assert (create.status, create.code) == (403, "ROLE_REQUIRED")
    assert (listing.status, listing.code) == (403, "ROLE_REQUIRED")


async def test_every_role_reads_reference_data(operator):
    for role in ["buyer", "supplier", "node", "bank"]:
        _, client = await new_participant(operator, [role])
        assert (await client.get("/v1/commodities")).status == 200
        assert (await client.get("/v1/regions")).status == 200


async def test_suspended_participant_is_403_until_reactivated(operator):
    participant, supplier = await new_participant(operator, ["supplier"])
    pid = participant["id"]

    before = await supplier.get("/v1/me")
    suspended = await operator.post(f"/v1/participants/{pid}/suspend")
    during = await supplier.get("/v1/me")
    reading = await supplier.get("/v1/commodities")
    await operator.post(f"/v1/participants/{pid}/reactivate")
    after = await supplier.get("/v1/me")

    assert before.status == 200
    assert suspended.body["status"] == "suspended"
    assert (during.status, during.code) == (403, "PARTICIPANT_SUSPENDED")
    assert (reading.status, reading.code) == (403, "PARTICIPANT_SUSPENDED")
    assert after.status == 200


async def test_revoked_key_is_401_and_other_keys_keep_working(operator):
    participant, buyer = await new_participant(operator, ["buyer"])
    pid = participant["id"]
    second = await buyer.post(f"/v1/participants/{pid}/keys", {"label": "erp"})
    first_key_id = (await buyer.get("/v1/me")).body["key_id"]

    revoked = await buyer.delete(f"/v1/participants/{pid}/keys/{first_key_id}")
    with_revoked = await buyer.get("/v1/me")
    with_second = await buyer.with_key(second.body["key"]).get("/v1/me")

    assert revoked.status == 200
    assert revoked.body["revoked_at"] is not None
    assert (with_revoked.status, with_revoked.code) == (401, "UNAUTHENTICATED")
    assert with_second.status == 200
    assert with_second.body["key_id"] == second.body["id"]


async def test_a_participant_cannot_touch_another_participants_keys(operator):
    other, _ = await new_participant(operator, ["buyer"])
    _, supplier = await new_participant(operator, ["supplier"])

    listing = await supplier.get(f"/v1/participants/{other['id']}/keys")
    issuing = await supplier.post(f"/v1/participants/{other['id']}/keys", {})
    revoking = await supplier.delete(f"/v1/participants/{other['id']}/keys/1")
    keys = await operator.get(f"/v1/participants/{other['id']}/keys")

    for reply in (listing, issuing, revoking):
        assert (reply.status, reply.code) == (404, "UNKNOWN_PARTICIPANT")
        assert "key" not in reply.body
    # nothing changed: the other participant still holds just its first key, unrevoked
    [only] = keys.body["data"]
    assert only["revoked_at"] is None


async def test_operator_cannot_suspend_itself(operator):
    me = await operator.get("/v1/me")

    reply = await operator.post(f"/v1/participants/{me.body['participant']['id']}/suspend")

    assert (reply.status, reply.code) == (409, "CANNOT_SUSPEND_SELF")
