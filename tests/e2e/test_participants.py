"""Participants and keys through the API."""

from tests.factories import new_participant, participant_body


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


async def test_unknown_participant_is_404(operator):
    for path in ["/v1/participants/999999", "/v1/participants/abc"]:
        reply = await operator.get(path)
        assert (reply.status, reply.code) in {(404, "UNKNOWN_PARTICIPANT"), (404, "NOT_FOUND")}


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
    by_id = {k["id"]: k for k in keys.body}
    assert by_id[old_key_id]["revoked_at"] is not None
    assert by_id[rotated.body["id"]]["revoked_at"] is None
    assert all("key" not in k for k in keys.body)


async def test_rotating_an_unknown_key_changes_nothing(operator):
    participant, buyer = await new_participant(operator, ["buyer"])
    pid = participant["id"]

    reply = await buyer.post(f"/v1/participants/{pid}/keys", {"replaces_key_id": 987654})
    keys = await buyer.get(f"/v1/participants/{pid}/keys")

    assert (reply.status, reply.code) == (404, "UNKNOWN_KEY")
    assert len(keys.body) == 1


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
