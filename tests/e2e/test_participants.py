"""Participants and keys through the API."""

import pytest

from tests.factories import commodity_body, new_participant, participant_body, unique


async def test_create_returns_the_participant_and_a_working_key(operator):
    await operator.post("/v1/regions", {"code": "EU-DE-N", "name": "Germany north"})
    body = participant_body(["buyer", "supplier"], home_region="EU-DE-N")

    created = await operator.post("/v1/participants", body)
    key = created.body["api_key"]["key"]
    me = await operator.with_key(key).get("/v1/me")

    assert created.status == 201
    participant = created.body["participant"]
    assert participant["legal_name"] == body["legal_name"]
    assert participant["roles"] == ["buyer", "supplier"]
    assert participant["status"] == "active"
    assert participant["home_region"] == "EU-DE-N"
    assert me.body["participant"] == participant


async def test_duplicate_registration_number_is_409(operator):
    body = participant_body(["buyer"])
    await operator.post("/v1/participants", body)

    again = await operator.post(
        "/v1/participants",
        participant_body(["supplier"], registration_number=body["registration_number"]),
    )

    assert (again.status, again.code) == (409, "DUPLICATE_PARTICIPANT")


async def test_unknown_home_region_is_422(operator):
    reply = await operator.post(
        "/v1/participants", participant_body(["buyer"], home_region="NOWHERE")
    )

    assert (reply.status, reply.code) == (422, "UNKNOWN_REGION")
    assert reply.body["errors"][0]["path"] == "$.home_region"


async def test_roles_must_not_repeat(operator):
    reply = await operator.post("/v1/participants", participant_body(["buyer", "buyer"]))

    assert (reply.status, reply.code) == (422, "VALIDATION_FAILED")
    assert "roles" in reply.body["detail"]


async def test_patch_changes_only_what_is_given(operator):
    participant, _ = await new_participant(operator, ["buyer"])
    pid = participant["id"]

    reply = await operator.patch(f"/v1/participants/{pid}", {"roles": ["buyer", "supplier"]})
    fetched = await operator.get(f"/v1/participants/{pid}")

    assert reply.status == 200
    assert fetched.body["roles"] == ["buyer", "supplier"]
    assert fetched.body["legal_name"] == participant["legal_name"]
    assert fetched.body["contact"] == participant["contact"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/participants/999999", "UNKNOWN_PARTICIPANT"),  # a number that names nobody
        ("/v1/participants/abc", "NOT_FOUND"),  # not an id at all
    ],
)
async def test_unknown_participant_is_404(operator, path, code):
    reply = await operator.get(path)

    assert (reply.status, reply.code) == (404, code)
    assert reply.headers["Content-Type"].startswith("application/problem+json")


async def test_list_is_paginated_with_a_cursor(operator):
    created = [(await new_participant(operator, ["node"]))[0]["id"] for _ in range(5)]

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", "role": "node"} | ({"cursor": cursor} if cursor else {})
        page = await operator.get("/v1/participants", **params)
        assert page.status == 200
        seen += [p["id"] for p in page.body["data"]]
        pages += 1
        if not page.body["has_next"]:
            assert page.body["next_cursor"] is None
            break
        cursor = page.body["next_cursor"]

    assert seen == sorted(seen)
    assert set(created) <= set(seen)
    assert pages == (len(seen) + 1) // 2


async def test_bad_cursor_is_400(operator):
    reply = await operator.get("/v1/participants", cursor="!!not-ours")

    assert (reply.status, reply.code) == (400, "BAD_CURSOR")


async def test_key_rotation_revokes_the_old_key_atomically(operator):
    participant, buyer = await new_participant(operator, ["buyer"])
    pid = participant["id"]
    old_key_id = (await buyer.get("/v1/me")).body["key_id"]

    rotated = await buyer.post(
        f"/v1/participants/{pid}/keys", {"label": "rotated", "replaces_key_id": old_key_id}
    )
    new_client = buyer.with_key(rotated.body["key"])
    keys = await new_client.get(f"/v1/participants/{pid}/keys")

    assert rotated.status == 201
    assert (await buyer.get("/v1/me")).status == 401
    assert (await new_client.get("/v1/me")).status == 200
    by_id = {k["id"]: k for k in keys.body["data"]}
    assert by_id[old_key_id]["revoked_at"] is not None
    assert by_id[rotated.body["id"]]["revoked_at"] is None
    assert all("key" not in k for k in keys.body["data"])


async def test_rotating_an_unknown_key_changes_nothing(operator):
    participant, buyer = await new_participant(operator, ["buyer"])
    pid = participant["id"]

    reply = await buyer.post(f"/v1/participants/{pid}/keys", {"replaces_key_id": 987654})
    keys = await buyer.get(f"/v1/participants/{pid}/keys")

    assert (reply.status, reply.code) == (404, "UNKNOWN_KEY")
    assert len(keys.body["data"]) == 1


async def test_operator_actions_are_audited(operator, database_url):
    import asyncpg

    participant, _ = await new_participant(operator, ["buyer"])
    await operator.post(f"/v1/participants/{participant['id']}/suspend")

    conn = await asyncpg.connect(database_url)
    try:
        actions = await conn.fetch(
            "SELECT action FROM audit_log WHERE target=$1 ORDER BY id",
            f"participant:{participant['id']}",
        )
    finally:
        await conn.close()

    assert [a["action"] for a in actions] == ["participant.create", "participant.suspended"]


async def test_keys_are_a_paginated_list(operator):
    participant, buyer = await new_participant(operator, ["buyer"])
    pid = participant["id"]
    issued = [(await buyer.post(f"/v1/participants/{pid}/keys", {})).body["id"] for _ in range(2)]

    first = await buyer.get(f"/v1/participants/{pid}/keys", limit="2")
    second = await buyer.get(
        f"/v1/participants/{pid}/keys", limit="2", cursor=first.body["next_cursor"]
    )
    bad = await buyer.get(f"/v1/participants/{pid}/keys", cursor="!!not-ours")

    assert first.status == second.status == 200
    assert first.body["has_next"] is True
    assert second.body["has_next"] is False
    assert second.body["next_cursor"] is None
    ids = [k["id"] for k in first.body["data"] + second.body["data"]]
    assert len(ids) == 3
    assert ids == sorted(ids)
    assert ids[1:] == issued
    assert (bad.status, bad.code) == (400, "BAD_CURSOR")


async def test_the_schema_says_roles_must_not_repeat(anonymous):
    document = (await anonymous.get("/v1/openapi.json")).body
    schemas = document["components"]["schemas"]

    for name in ("CreateParticipant", "UpdateParticipant"):
        roles = schemas[name]["properties"]["roles"]
        roles = next((r for r in roles.get("anyOf", [roles]) if r.get("type") == "array"), roles)
        assert roles["uniqueItems"] is True, name
        assert roles["type"] == "array"
    keys = document["paths"]["/v1/participants/{participant_id}/keys"]["get"]
    listed = keys["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["$ref"].endswith("Page_ApiKeyInfo_")


async def test_parties_keep_their_names_as_of_signing_after_a_rename(operator):
    await operator.post("/v1/regions", {"code": "EU-RN", "name": "Renames"})
    seller, supplier = await new_participant(
        operator, ["supplier"], home_region="EU-RN", legal_name="Old Steel Works Ltd"
    )
    _, buyer = await new_participant(operator, ["buyer"], home_region="EU-RN")
    commodity = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", commodity)).status == 201
    sell = {"client_order_id": unique("rn-"), "commodity": commodity["code"], "side": "sell",
            "price": "100.00", "quantity": "2"}  # fmt: skip
    assert (await supplier.post("/v1/orders", sell)).status == 201
    buy = sell | {"client_order_id": unique("rn-"), "side": "buy"}
    assert (await buyer.post("/v1/orders", buy)).body["status"] == "filled"
    [contract] = (await buyer.get("/v1/contracts", commodity=commodity["code"])).body["data"]

    renamed = await operator.patch(
        f"/v1/participants/{seller['id']}", {"legal_name": "New Steel Holdings plc"}
    )
    again = await buyer.get(f"/v1/contracts/{contract['id']}")
    check = await buyer.get(f"/v1/contracts/{contract['id']}/verification")
    document = await buyer.get(f"/v1/contracts/{contract['id']}/document")

    assert renamed.body["legal_name"] == "New Steel Holdings plc"
    assert contract["terms"]["seller"]["legal_name"] == "Old Steel Works Ltd"
    assert again.body["contract"]["terms"]["seller"]["legal_name"] == "Old Steel Works Ltd"
    assert again.body["contract"]["hash"] == contract["hash"]
    assert "Old Steel Works Ltd" in document.body
    assert "New Steel Holdings" not in document.body
    assert check.body["valid"] is True
    assert check.body["problems"] == []
