"""Migration 0011: contracts signed before it record the book and their trade as their source."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import asyncpg

from exchange.db.migrate import available_migrations, migrate

SOURCES = 11
TRADE_ID = (1 << 40) | 5  # commodity 1, its fifth trade


async def _migrate_up_to_sources(conn: asyncpg.Connection) -> None:
    """Apply (and record, as `migrate` does) every migration before 0011."""
    await conn.execute(
        """CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
               checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    for version, name, sql in available_migrations():
        if version < SOURCES:
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                version, name, hashlib.sha256(sql.encode()).hexdigest(),
            )  # fmt: skip


async def _a_book_contract(conn: asyncpg.Connection) -> None:
    """A contract as the center stored them before 0011 (its terms need not be signed here)."""
    parties = [
        await conn.fetchval(
            """INSERT INTO participants (legal_name, registration_number, contact_name,
                   contact_email, roles)
               VALUES ($1, $1, 'x', 'x@example.com', ARRAY['buyer', 'supplier']) RETURNING id""",
            name,
        )
        for name in ("Seller AG", "Buyer SA")
    ]
    commodity = await conn.fetchval(
        """INSERT INTO commodities (code, name, unit, currency, tick_size_minor, lot_size_micro,
               min_quantity_lots, fee_rate_bps, review_threshold_minor, payment_due_hours)
           VALUES ('OLD', 'Old goods', 't', 'EUR', 1, 1000000, 1, 10, 100000, 48) RETURNING id"""
    )
    key = await conn.fetchval(
        "INSERT INTO signing_keys (public_key) VALUES ($1) RETURNING id", bytes(32)
    )
    await conn.execute(
        """INSERT INTO contracts (commodity_id, id, number, chain_position, trade_id, buyer_id,
               seller_id, amount_minor, fee_minor, currency, status, terms, hash, previous_hash,
               signature, key_id, signed_at, updated_at)
           VALUES ($1, $2, 'OLD-00000001', 1, $2, $3, $4, 100, 1, 'EUR', 'awaiting_payment',
                   '{}', $5, $5, $5, $6, $7, $7)""",
        commodity, TRADE_ID, parties[1], parties[0], bytes(32), key, datetime.now(UTC),
    )  # fmt: skip


async def test_existing_contracts_are_the_books_with_their_trade(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await _migrate_up_to_sources(conn)
        await _a_book_contract(conn)

        applied = await migrate(conn)
        row = await conn.fetchrow("SELECT id, source, source_id, trade_id FROM contracts")
        nulls = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'contracts'"
            " AND column_name IN ('source', 'source_id') AND is_nullable = 'YES'"
        )
    finally:
        await conn.close()

    assert applied[0] == SOURCES
    assert dict(row) == {
        "id": TRADE_ID, "source": "book", "source_id": TRADE_ID, "trade_id": TRADE_ID
    }  # fmt: skip
    assert nulls == 0
