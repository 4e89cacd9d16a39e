"""Every source of deals goes through the same door: a listing deal becomes a contract on the
same chain as the book's, signed, reviewed and payable the same way, with an id of its own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from exchange.appkeys import RUNTIME
from exchange.contracts.deal import NEGOTIATED_BIT, Deal, DealSource
from exchange.contracts.issue import issue_contracts
from exchange.ids import commodity_of, local_of
from exchange.payments.references import Payee, contract_reference, payee_of
from exchange.reference import CommoditySpec, load_specs
from tests.factories import Api, commodity_body, new_participant, place, unique
from tests.process import env_without_database

TAKE_ID = 7  # the listing take that made the deal (listings are not built yet)


def unique_take() -> int:
    return int(unique("")) + 1000


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict:
    await operator.post("/v1/regions", {"code": "EU-DL", "name": "Deals"})
    await operator.post("/v1/regions", {"code": "EU-DO", "name": "Deals origin"})
    supplier, supplier_api = await new_participant(operator, ["supplier"], home_region="EU-DO")
    buyer, buyer_api = await new_participant(operator, ["buyer"], home_region="EU-DL")
    body = commodity_body(
        tick_size="1.00", lot_size="1", min_quantity="1", review_threshold="10000.00",
        fee_rate_bps=25,
    )  # fmt: skip
    assert (await operator.post("/v1/commodities", body)).status == 201
    return {"supplier": supplier, "buyer": buyer, "supplier_api": supplier_api,
            "buyer_api": buyer_api, "code": body["code"]}  # fmt: skip


async def _spec(conn: asyncpg.Connection, code: str) -> CommoditySpec:
    [spec] = [spec for spec in await load_specs(conn) if spec.code == code]
    return spec


async def _book_trade(desk: dict, price: int) -> dict:
    await place(desk["supplier_api"], desk["code"], "sell", price, 1)
    bought = await place(desk["buyer_api"], desk["code"], "buy", price, 1)
    assert bought["status"] == "filled"
    return bought


async def _issue_listing_deal(
    center, database_url: str, desk: dict, take_id: int, price: int, quantity: int
) -> tuple[dict, datetime]:
    made_at = datetime.now(UTC).replace(microsecond=0)
    conn = await asyncpg.connect(database_url)
    try:
        deal = Deal(
            source=DealSource.LISTING, source_id=take_id, spec=await _spec(conn, desk["code"]),
            seller_id=desk["supplier"]["id"], buyer_id=desk["buyer"]["id"], quantity=quantity,
            price=price, delivery_region="EU-DL", origin_region="EU-DO", made_at=made_at,
        )  # fmt: skip
        async with conn.transaction():
            [issued] = await issue_contracts(conn, [deal], center[1][RUNTIME].signer)
    finally:
        await conn.close()
    reply = await desk["buyer_api"].get(f"/v1/contracts/{issued.id}")
    assert reply.status == 200, reply.body
    return reply.body["contract"], made_at


async def _contracts(api: Api, code: str) -> list[dict]:
    found = (await api.get("/v1/contracts", commodity=code, limit="100")).body["data"]
    return sorted(found, key=lambda c: c["number"])


def _verify_cli(database_url: str, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", "contracts", "verify"],
        env=env_without_database(DATABASE_URL=database_url),
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def test_a_listing_deal_joins_the_books_chain_signed_and_payable_alike(
    center, database_url, desk, tmp_path
):
    await _book_trade(desk, 100)
    listing, made_at = await _issue_listing_deal(center, database_url, desk, TAKE_ID, 120, 5)
    await _book_trade(desk, 101)
    book_first, from_listing, book_second = await _contracts(desk["supplier_api"], desk["code"])
    check = await desk["supplier_api"].get(f"/v1/contracts/{listing['id']}/verification")
    document = await desk["buyer_api"].get(f"/v1/contracts/{listing['id']}/document")
    cli = await asyncio.to_thread(_verify_cli, database_url, tmp_path)

    assert from_listing == listing
    assert (listing["source"], listing["source_id"]) == ("listing", TAKE_ID)
    terms = listing["terms"]
    assert terms["source"] == {"kind": "listing", "id": TAKE_ID}
    assert terms["trade"] is None
    assert (terms["quantity"], terms["unit_price"], terms["amount"]) == (
        "5.000000", "120.00", "600.00"
    )  # fmt: skip
    assert (listing["amount"], listing["fee"]) == ("600.00", "1.50")
    assert (terms["delivery"]["region"], terms["delivery"]["origin_region"]) == ("EU-DL", "EU-DO")
    assert terms["seller"]["participant_id"] == desk["supplier"]["id"]
    # one chain for every source: the listing contract sits between the two book contracts
    assert [c["number"] for c in (book_first, listing, book_second)] == [
        f"{desk['code']}-0000000{i}" for i in (1, 2, 3)
    ]
    assert listing["previous_hash"] == book_first["hash"]
    assert book_second["previous_hash"] == listing["hash"]
    # signed and verifiable like any other
    assert (check.body["valid"], check.body["problems"]) == (True, [])
    assert cli.returncode == 0, cli.stdout
    assert "Source" in document.body
    assert f"listing {TAKE_ID}" in document.body
    # the payment term and the payment reference work as for book contracts
    assert listing["status"] == "awaiting_payment"
    assert datetime.fromisoformat(listing["signed_at"]) == made_at
    assert datetime.fromisoformat(listing["payment_due_at"]) == made_at + timedelta(hours=48)
    assert listing["payment_reference"] == contract_reference(listing["id"])
    assert payee_of(listing["payment_reference"]) == Payee("contract", listing["id"])
    # book contracts record their trade as their source
    for book in (book_first, book_second):
        assert book["source"] == "book"
        assert book["source_id"] == book["id"] == book["terms"]["trade"]["trade_id"]
        assert book["terms"]["source"] == {"kind": "book", "id": book["id"]}


async def test_listing_contract_ids_cannot_collide_with_the_books(center, database_url, desk):
    first, _ = await _issue_listing_deal(center, database_url, desk, unique_take(), 100, 1)
    await _book_trade(desk, 102)
    contracts = await _contracts(desk["buyer_api"], desk["code"])
    book_ids = [c["id"] for c in contracts if c["source"] == "book"]
    listing_ids = [c["id"] for c in contracts if c["source"] == "listing"]
    commodity = commodity_of(first["id"])

    assert len(set(book_ids + listing_ids)) == len(contracts)
    assert all(commodity_of(i) == commodity for i in book_ids + listing_ids)
    # book ids are trade ids numbered from 1; other sources' ids sit above every trade number
    assert all(local_of(i) < NEGOTIATED_BIT for i in book_ids)
    assert all(local_of(i) == NEGOTIATED_BIT | c["terms"]["chain_position"]
               for i, c in ((c["id"], c) for c in contracts if c["source"] != "book"))  # fmt: skip
    # and the database refuses a listing contract that takes a trade's id
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "UPDATE contracts SET id = $1 WHERE id = $2", max(book_ids) + 1, first["id"]
            )
    finally:
        await conn.close()


async def test_a_large_listing_deal_waits_for_review_like_a_book_contract(
    center, database_url, desk, operator
):
    large, _ = await _issue_listing_deal(center, database_url, desk, unique_take(), 5000, 2)
    approved = await operator.post(f"/v1/contracts/{large['id']}/approve", {})

    assert large["amount"] == "10000.00"  # reaches the threshold
    assert (large["status"], large["payment_due_at"]) == ("pending_review", None)
    assert large["terms"]["review_required"] is True
    assert approved.body["status"] == "awaiting_payment"
    assert approved.body["payment_due_at"] is not None
