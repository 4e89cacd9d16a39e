"""Migration 0014: quotes made before it get their negotiation rounds from their revisions."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import asyncpg

from exchange.db.migrate import available_migrations, migrate

ROUNDS = 14


async def _migrate_up_to_rounds(conn: asyncpg.Connection) -> None:
    """Apply (and record, as `migrate` does) every migration before 0014."""
    await conn.execute(
        """CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
               checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    for version, name, sql in available_migrations():
        if version < ROUNDS:
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                version, name, hashlib.sha256(sql.encode()).hexdigest(),
            )  # fmt: skip


async def _a_revised_quote(conn: asyncpg.Connection, at: datetime) -> tuple[int, int]:
    """(supplier id, quote id) of a quote stored as before 0014: submitted, then revised."""
    buyer, supplier = [
        await conn.fetchval(
            """INSERT INTO participants (legal_name, registration_number, contact_name,
                   contact_email, roles)
               VALUES ($1, $1, 'x', 'x@example.com', ARRAY[$2]) RETURNING id""",
            name,
            role,
        )
        for name, role in (("Buyer SA", "buyer"), ("Seller AG", "supplier"))
    ]
    await conn.execute("INSERT INTO regions (code, name) VALUES ('OLD-R', 'Old region')")
    commodity = await conn.fetchval(
        """INSERT INTO commodities (code, name, unit, currency, tick_size_minor, lot_size_micro,
               min_quantity_lots, fee_rate_bps, review_threshold_minor, payment_due_hours)
           VALUES ('OLD', 'Old goods', 't', 'EUR', 1, 1000000, 1, 10, 100000, 48) RETURNING id"""
    )
    rfq = await conn.fetchval(
        """INSERT INTO rfqs (commodity_id, buyer_id, mode, quantity_lots, min_quote_lots,
               region, delivery_earliest, delivery_latest, closes_at, specification,
               invited_only, created_at, updated_at)
           VALUES ($1, $2, 'open', 100, 10, 'OLD-R', '2030-01-01', '2030-01-31', $3, '', false,
                   $3, $3) RETURNING id""",
        commodity, buyer, at,
    )  # fmt: skip
    quote = await conn.fetchval(
        """INSERT INTO quotes (rfq_id, supplier_id, revision, price_ticks, quantity_lots,
               origin_region, valid_until, status, created_at, updated_at)
           VALUES ($1, $2, 2, 90, 40, 'OLD-R', $3, 'revised', $3, $3) RETURNING id""",
        rfq, supplier, at,
    )  # fmt: skip
    for revision, price, lots, made in ((1, 95, 50, at), (2, 90, 40, at + timedelta(minutes=1))):
        await conn.execute(
            """INSERT INTO quote_revisions (quote_id, revision, price_ticks, quantity_lots,
                   origin_region, valid_until, made_at) VALUES ($1, $2, $3, $4, 'OLD-R', $5, $5)""",
            quote, revision, price, lots, made,
        )  # fmt: skip
    return supplier, quote


async def test_quotes_before_the_migration_get_their_rounds_and_no_counter(database_url):
    at = datetime(2030, 1, 1, tzinfo=UTC)
    conn = await asyncpg.connect(database_url)
    try:
        await _migrate_up_to_rounds(conn)
        supplier, quote = await _a_revised_quote(conn, at)

        applied = await migrate(conn)
        rounds = await conn.fetch(
            """SELECT quote_id, participant_id, side, action, revision, price_ticks,
                      quantity_lots, message, made_at FROM quote_rounds ORDER BY id"""
        )
        pending = await conn.fetchval("SELECT pending_counter FROM quotes WHERE id = $1", quote)
    finally:
        await conn.close()

    assert applied[0] == ROUNDS
    assert [tuple(r) for r in rounds] == [
        (quote, supplier, "supplier", "quoted", 1, 95, 50, "", at),
        (quote, supplier, "supplier", "revised", 2, 90, 40, "", at + timedelta(minutes=1)),
    ]
    assert pending is None
