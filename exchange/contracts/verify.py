"""Check contracts: terms against hash, hash against signature, each link of each chain."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from exchange.contracts.issue import contract_number
from exchange.contracts.signing import verify as verify_signature
from exchange.contracts.terms import GENESIS_HASH, digest, parse
from exchange.db import Queryable
from exchange.ids import commodity_of
from exchange.units import currency_exponent, parse_scaled


@dataclass(frozen=True, slots=True)
class Finding:
    contract_id: int | None
    number: str
    problem: str


def _record_matches_terms(row: asyncpg.Record) -> list[str]:
    """The stored columns must say what the signed terms say."""
    try:
        terms = parse(bytes(row["terms"]))
    except ValueError:
        return ["the stored terms cannot be read"]
    scale = currency_exponent(row["currency"])
    expected = {
        "number": terms.number,
        "chain_position": terms.chain_position,
        "buyer_id": terms.buyer.participant_id,
        "seller_id": terms.seller.participant_id,
        "currency": terms.currency,
        "amount_minor": parse_scaled(terms.amount, scale),
        "fee_minor": parse_scaled(terms.fee.amount, scale),
        "previous_hash": bytes.fromhex(terms.previous_hash),
        "signed_at": terms.signed_at,
        "trade_id": terms.trade.trade_id if terms.trade else None,
        "source": terms.source.kind if terms.source else "book",
        # contracts signed before sources were recorded are all the book's
        "source_id": terms.source.id if terms.source else terms.trade and terms.trade.trade_id,
    }
    stored = {name: row[name] for name in expected}
    stored["previous_hash"] = bytes(stored["previous_hash"])
    return [
        f"stored {name} differs from the signed terms"
        for name, value in expected.items()
        if stored[name] != value
    ]


def check_contract(row: asyncpg.Record, public_key: bytes | None) -> list[str]:
    """Problems with one contract on its own: terms, hash, signature, record."""
    problems = []
    terms = bytes(row["terms"])
    if digest(terms) != bytes(row["hash"]):
        problems.append("the terms do not match the hash (altered terms)")
    if public_key is None:
        problems.append("signed with a key the center never registered")
    elif not verify_signature(public_key, bytes(row["signature"]), terms):
        problems.append("the signature does not match the terms")
    if not problems:
        problems += _record_matches_terms(row)
    return problems


def check_link(row: asyncpg.Record, previous: asyncpg.Record | None, code: str) -> list[Finding]:
    """Problems between a contract and the one before it in its chain."""
    position = row["chain_position"]
    expected_position = 1 if previous is None else previous["chain_position"] + 1
    findings = [
        Finding(None, contract_number(code, missing), "missing from the chain")
        for missing in range(expected_position, position)
    ]
    previous_hash = GENESIS_HASH if previous is None else bytes(previous["hash"])
    if position < expected_position:
        findings.append(Finding(row["id"], row["number"], "out of place in the chain"))
    elif bytes(row["previous_hash"]) != previous_hash:
        findings.append(
            Finding(row["id"], row["number"], "does not link to the contract before it")
        )
    return findings


_SELECT = """SELECT c.commodity_id, c.id, c.number, c.chain_position, c.trade_id, c.buyer_id,
    c.seller_id, c.amount_minor, c.fee_minor, c.currency, c.terms, c.hash, c.previous_hash,
    c.signature, c.key_id, c.signed_at, c.source, c.source_id, m.code
    FROM contracts c JOIN commodities m ON m.id = c.commodity_id"""


async def public_keys(conn: Queryable) -> dict[int, bytes]:
    rows = await conn.fetch("SELECT id, public_key FROM signing_keys")
    return {row["id"]: bytes(row["public_key"]) for row in rows}


async def verify_chains(conn: asyncpg.Connection) -> tuple[int, list[Finding]]:
    """Walk every chain; return (contracts checked, findings)."""
    keys = await public_keys(conn)
    findings: list[Finding] = []
    checked = 0
    previous: asyncpg.Record | None = None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor(_SELECT + " ORDER BY c.commodity_id, c.chain_position"):
            checked += 1
            if previous is not None and previous["commodity_id"] != row["commodity_id"]:
                findings += await _check_head(conn, previous)
                previous = None
            findings += check_link(row, previous, row["code"])
            findings += [
                Finding(row["id"], row["number"], problem)
                for problem in check_contract(row, keys.get(row["key_id"]))
            ]
            previous = row
        if previous is not None:
            findings += await _check_head(conn, previous)
        findings += await _empty_chains(conn)
    return checked, findings


async def _check_head(conn: asyncpg.Connection, last: asyncpg.Record) -> list[Finding]:
    """The chain's recorded length and last hash must be its last contract's."""
    head = await conn.fetchrow(
        "SELECT length, last_hash FROM contract_chains WHERE commodity_id=$1",
        last["commodity_id"],
    )
    if head is None:
        return [Finding(None, last["code"], "the chain head is missing")]
    findings = [
        Finding(None, contract_number(last["code"], position), "missing from the chain")
        for position in range(last["chain_position"] + 1, head["length"] + 1)
    ]
    if not findings and bytes(head["last_hash"]) != bytes(last["hash"]):
        findings.append(
            Finding(last["id"], last["number"], "is not the contract the chain head names")
        )
    return findings


async def _empty_chains(conn: asyncpg.Connection) -> list[Finding]:
    rows = await conn.fetch(
        """SELECT h.length, m.code
             FROM contract_chains h JOIN commodities m ON m.id = h.commodity_id
            WHERE h.length > 0 AND NOT EXISTS
                  (SELECT 1 FROM contracts c WHERE c.commodity_id = h.commodity_id)"""
    )
    return [
        Finding(None, contract_number(row["code"], position), "missing from the chain")
        for row in rows
        for position in range(1, row["length"] + 1)
    ]


async def verify_one(conn: Queryable, contract_id: int) -> tuple[asyncpg.Record, list[Finding]]:
    """One contract: its own checks and its link to the contract before it."""
    row = await conn.fetchrow(
        _SELECT + " WHERE c.commodity_id=$1 AND c.id=$2", commodity_of(contract_id), contract_id
    )
    assert row is not None
    keys = await public_keys(conn)
    previous = None
    if row["chain_position"] > 1:
        previous = await conn.fetchrow(
            _SELECT + " WHERE c.commodity_id=$1 AND c.chain_position < $2"
            " ORDER BY c.chain_position DESC LIMIT 1",
            row["commodity_id"],
            row["chain_position"],
        )
    findings = check_link(row, previous, row["code"])
    findings += [
        Finding(row["id"], row["number"], problem)
        for problem in check_contract(row, keys.get(row["key_id"]))
    ]
    return row, findings
