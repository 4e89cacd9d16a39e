"""Every trade becomes a complete, signed, chained contract; review; access; tampering found."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
from datetime import datetime, timedelta

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.factories import Api, commodity_body, new_participant, unique
from tests.process import env_without_database


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict:
    await operator.post("/v1/regions", {"code": "EU-CT", "name": "Contracts"})
    _, supplier = await new_participant(
        operator, ["supplier"], home_region="EU-CT", legal_name="Rhein Stahl GmbH"
    )
    _, buyer = await new_participant(
        operator, ["buyer"], home_region="EU-CT", legal_name="Baltic Build AB"
    )
    _, stranger = await new_participant(operator, ["buyer", "supplier"], home_region="EU-CT")
    return {"supplier": supplier, "buyer": buyer, "stranger": stranger}


async def _commodity(operator: Api, **overrides) -> str:
    body = commodity_body(
        tick_size="1.00", lot_size="1", min_quantity="1", review_threshold="10000.00",
        fee_rate_bps=25,
    ) | overrides  # fmt: skip
    assert (await operator.post("/v1/commodities", body)).status == 201
    return body["code"]


async def _trade(desk: dict, code: str, price: int, quantity: int) -> dict:
    """A resting offer and a crossing bid: one trade. Returns the buyer's filled order."""
    sell = {"client_order_id": unique("c-"), "commodity": code, "side": "sell",
            "price": f"{price}.00", "quantity": str(quantity)}  # fmt: skip
    buy = sell | {"client_order_id": unique("c-"), "side": "buy"}
    assert (await desk["supplier"].post("/v1/orders", sell)).status == 201
    reply = await desk["buyer"].post("/v1/orders", buy)
    assert reply.body["status"] == "filled"
    return reply.body


async def _contracts(api: Api, code: str) -> list[dict]:
    return (await api.get("/v1/contracts", commodity=code)).body["data"]


async def test_a_trade_makes_one_complete_contract_seen_by_both_parties(operator, desk):
    code = await _commodity(operator)

    await _trade(desk, code, 412, 3)
    [mine] = await _contracts(desk["buyer"], code)
    [theirs] = await _contracts(desk["supplier"], code)
    detail = await desk["buyer"].get(f"/v1/contracts/{mine['id']}")

    assert mine == theirs
    terms = mine["terms"]
    assert mine["status"] == "awaiting_payment"
    assert (mine["amount"], mine["fee"], mine["currency"]) == ("1236.00", "3.09", "EUR")
    assert terms["seller"]["legal_name"] == "Rhein Stahl GmbH"
    assert terms["buyer"]["legal_name"] == "Baltic Build AB"
    assert terms["buyer"]["registration_number"]
    assert terms["goods"] == {"commodity": code, "name": "Hot-rolled steel coil", "unit": "t"}
    assert (terms["quantity"], terms["unit_price"], terms["amount"]) == (
        "3.000000", "412.00", "1236.00"
    )  # fmt: skip
    assert terms["fee"] == {"rate_bps": 25, "amount": "3.09", "payer": "seller"}
    assert terms["delivery"]["region"] == "EU-CT"
    assert "regional distribution node" in terms["delivery"]["transport"]
    assert terms["payment"]["due_within_hours"] == 48
    assert set(terms["breach"]) == {
        "late_payment_penalty_bps_per_day", "late_delivery_penalty_bps_per_day",
        "claim_window_days",
    }  # fmt: skip
    assert terms["rules_version"]
    assert terms["number"] == mine["number"] == f"{code}-00000001"
    assert terms["previous_hash"] == "00" * 32
    signed = datetime.fromisoformat(mine["signed_at"])
    assert datetime.fromisoformat(mine["payment_due_at"]) == signed + timedelta(hours=48)
    assert [h["to_status"] for h in detail.body["history"]] == ["awaiting_payment"]


async def test_strangers_get_404_and_see_nothing(operator, desk):
    code = await _commodity(operator)
    await _trade(desk, code, 100, 1)
    [contract] = await _contracts(desk["buyer"], code)

    for path in ("", "/verification", "/document"):
        reply = await desk["stranger"].get(f"/v1/contracts/{contract['id']}{path}")
        assert (reply.status, reply.code) == (404, "UNKNOWN_CONTRACT")
    assert await _contracts(desk["stranger"], code) == []
    assert len(await _contracts(operator, code)) == 1


async def test_contracts_chain_within_a_commodity(operator, desk):
    code = await _commodity(operator)
    for price in (100, 101, 102):
        await _trade(desk, code, price, 1)

    contracts = sorted(await _contracts(desk["buyer"], code), key=lambda c: c["number"])

    pages, cursor = [], None
    while True:
        params = {"commodity": code, "limit": "1"} | ({"cursor": cursor} if cursor else {})
        page = (await desk["supplier"].get("/v1/contracts", **params)).body
        pages.append([c["number"] for c in page["data"]])
        if not page["has_next"]:
            break
        cursor = page["next_cursor"]

    assert [c["number"] for c in contracts] == [f"{code}-0000000{i}" for i in (1, 2, 3)]
    assert pages == [[f"{code}-0000000{i}"] for i in (3, 2, 1)]  # newest first, one a page
    assert contracts[1]["previous_hash"] == contracts[0]["hash"]
    assert contracts[2]["previous_hash"] == contracts[1]["hash"]


async def test_large_contract_waits_for_review_and_the_operator_approves(operator, desk):
    code = await _commodity(operator)
    await _trade(desk, code, 5000, 2)  # 10,000.00 reaches the threshold
    [contract] = await _contracts(desk["buyer"], code)
    path = f"/v1/contracts/{contract['id']}"

    by_buyer = await desk["buyer"].post(path + "/approve", {})
    approved = await operator.post(path + "/approve", {"reason": "checked credit lines"})
    again = await operator.post(path + "/approve", {})
    detail = await desk["supplier"].get(path)

    assert contract["status"] == "pending_review"
    assert contract["payment_due_at"] is None
    assert contract["terms"]["review_required"] is True
    assert (by_buyer.status, by_buyer.code) == (403, "ROLE_REQUIRED")
    assert approved.body["status"] == "awaiting_payment"
    assert approved.body["payment_due_at"] is not None
    assert (again.status, again.code) == (409, "INVALID_TRANSITION")
    assert detail.body["contract"]["status"] == "awaiting_payment"
    history = detail.body["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "pending_review"), ("pending_review", "awaiting_payment")
    ]  # fmt: skip
    assert history[1]["reason"] == "checked credit lines"
    assert history[1]["actor_id"] is not None


async def test_rejection_needs_a_reason_and_both_parties_are_told(operator, desk, http, base_url):
    code = await _commodity(operator)
    url = base_url.replace("http", "ws") + "/v1/ws"
    notices: dict[str, list] = {"buyer": [], "supplier": []}
    async with (
        http.ws_connect(url, headers={"Authorization": f"Bearer {desk['buyer'].key}"}) as bws,
        http.ws_connect(url, headers={"Authorization": f"Bearer {desk['supplier'].key}"}) as sws,
    ):
        for ws in (bws, sws):
            await ws.send_json({"type": "subscribe", "channels": [{"name": "user"}]})
            assert (await ws.receive_json())["type"] == "subscribed"
        await _trade(desk, code, 6000, 2)
        [contract] = await _contracts(desk["buyer"], code)
        path = f"/v1/contracts/{contract['id']}/reject"
        without_reason = await operator.post(path, {})
        rejected = await operator.post(path, {"reason": "sanctions screening failed"})
        for name, ws in (("buyer", bws), ("supplier", sws)):
            async with asyncio.timeout(10):
                while len(notices[name]) < 2:
                    message = await ws.receive_json()
                    if message["type"] == "contract":
                        notices[name].append(message)
    approve_after = await operator.post(f"/v1/contracts/{contract['id']}/approve", {})

    assert (without_reason.status, without_reason.code) == (422, "VALIDATION_FAILED")
    assert rejected.body["status"] == "rejected"
    for name in ("buyer", "supplier"):
        assert [n["event"] for n in notices[name]] == ["created", "rejected"]
        assert notices[name][1]["contract"]["id"] == contract["id"]
    assert (approve_after.status, approve_after.code) == (409, "INVALID_TRANSITION")


async def test_document_lays_out_every_term_hash_and_signature(operator, desk):
    code = await _commodity(operator)
    await _trade(desk, code, 250, 4)
    [contract] = await _contracts(desk["buyer"], code)

    reply = await desk["supplier"].get(f"/v1/contracts/{contract['id']}/document")

    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    for text in (
        contract["number"],
        "Rhein Stahl GmbH",
        "Baltic Build AB",
        "1000.00 EUR",
        "250.00 EUR per t",
        contract["hash"],
        contract["signature"],
        "PUBLIC KEY",
    ):
        assert text in reply.body  # fmt: skip


async def test_verification_gives_what_a_third_party_needs(operator, desk):
    code = await _commodity(operator)
    await _trade(desk, code, 300, 1)
    [contract] = await _contracts(desk["buyer"], code)

    check = (await desk["buyer"].get(f"/v1/contracts/{contract['id']}/verification")).body
    key = (await desk["buyer"].get("/v1/contracts/public-key")).body

    assert check["valid"] is True
    assert check["problems"] == []
    canonical = check["canonical_terms"].encode()
    assert hashlib.sha256(canonical).hexdigest() == check["hash"] == contract["hash"]
    assert json.loads(canonical)["number"] == contract["number"]
    assert check["public_key"] == key["public_key"]
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key["public_key"]))
    public.verify(base64.b64decode(check["signature"]), canonical)  # raises if it is wrong


# -- tampering: each case works on a chain of its own and puts things back afterwards ---------


def _verify_cli(database_url: str, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", "contracts", "verify"],
        env=env_without_database(DATABASE_URL=database_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _chain_of_three(operator: Api, desk: dict) -> tuple[str, list[dict]]:
    code = await _commodity(operator)
    for price in (200, 201, 202):
        await _trade(desk, code, price, 1)
    contracts = sorted(await _contracts(operator, code), key=lambda c: c["number"])
    return code, contracts


async def _failures(database_url: str, tmp_path) -> tuple[int, str]:
    result = await asyncio.to_thread(_verify_cli, database_url, tmp_path)
    return result.returncode, result.stdout


async def test_untouched_chains_verify(operator, desk, database_url, tmp_path):
    await _chain_of_three(operator, desk)

    code, output = await _failures(database_url, tmp_path)

    assert code == 0, output
    assert "all verified" in output


@pytest.mark.parametrize(
    "tamper",
    ["terms", "amount", "delete", "delete_last", "swap"],
)
async def test_tampering_is_found_and_the_contract_named(
    operator, desk, database_url, tmp_path, tamper
):
    _, contracts = await _chain_of_three(operator, desk)
    first, middle, last = contracts
    conn = await asyncpg.connect(database_url)
    saved = await conn.fetch(
        "SELECT * FROM contracts WHERE id = ANY($1) ORDER BY chain_position",
        [c["id"] for c in contracts],
    )
    try:
        named = await _apply_tamper(conn, tamper, first, middle, last)
        code, output = await _failures(database_url, tmp_path)
        endpoint = await operator.get(f"/v1/contracts/{named[0]['id']}/verification")
    finally:
        await conn.execute("DELETE FROM contracts WHERE id = ANY($1)", [r["id"] for r in saved])
        columns = list(saved[0].keys())
        await conn.copy_records_to_table(
            "contracts", records=[tuple(r) for r in saved], columns=columns
        )
        await conn.close()

    assert code == 1
    for contract in named:
        assert f"FAIL {contract['number']}" in output
    untouched = {first["number"], middle["number"], last["number"]} - {c["number"] for c in named}
    if tamper in ("terms", "amount", "swap"):
        assert endpoint.body["valid"] is False
    if tamper in ("terms", "amount"):  # a swap also breaks the next contract's link
        for number in untouched:
            assert f"FAIL {number}" not in output


async def _apply_tamper(conn, tamper: str, first: dict, middle: dict, last: dict) -> list[dict]:
    """Change the database behind the center's back; return the contracts that must be named."""
    if tamper == "terms":
        await conn.execute(
            "UPDATE contracts SET terms = convert_to(replace(convert_from(terms, 'UTF8'),"
            ' \'"quantity":"1.000000"\', \'"quantity":"9.000000"\'), \'UTF8\') WHERE id=$1',
            middle["id"],
        )
        return [middle]
    if tamper == "amount":
        await conn.execute("UPDATE contracts SET amount_minor = 1 WHERE id=$1", middle["id"])
        return [middle]
    if tamper == "delete":
        await conn.execute("DELETE FROM contracts WHERE id=$1", middle["id"])
        return [middle, last]
    if tamper == "delete_last":
        await conn.execute("DELETE FROM contracts WHERE id=$1", last["id"])
        return [last]
    # swap the whole signed records of two contracts
    await conn.execute(
        """UPDATE contracts a SET terms=b.terms, hash=b.hash, signature=b.signature,
               previous_hash=b.previous_hash
             FROM contracts b
            WHERE (a.id, b.id) IN (($1::bigint, $2::bigint), ($2::bigint, $1::bigint))""",
        first["id"],
        middle["id"],
    )
    return [first, middle]
