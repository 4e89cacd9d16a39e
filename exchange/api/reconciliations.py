"""Reconciliation with the designated bank's statements (operators; docs/payments.md)."""

from __future__ import annotations

import msgspec

from exchange.api.endpoint import Context, Routes
from exchange.appkeys import CLOCK, MARKET, PAYOUTS, SETTINGS
from exchange.bounds import check_date
from exchange.errors import UnavailableError
from exchange.messages.common import Page
from exchange.messages.participants import Role
from exchange.messages.payments import (
    Reconciliation,
    ReconciliationQuery,
    ReconciliationReport,
    RunReconciliation,
)
from exchange.pagination import decode_cursor, page_of
from exchange.payments.amounts import supported
from exchange.payments.notices import Notices
from exchange.payments.reconcile import reconcile
from settlement.bank.port import BankError

routes = Routes("reconciliations")
OPERATOR = [Role.OPERATOR]
_REPORT = msgspec.json.Decoder(ReconciliationReport)


@routes.route(
    "POST",
    "/v1/reconciliations",
    summary="Fetch the bank's statement of the center's account for one day and match it with"
    " the ledger: notifications that never arrived are applied from it (once); what does not"
    " match is reported",
    roles=OPERATOR,
    body=RunReconciliation,
    response=ReconciliationReport,
    errors=[503],
)
async def run_reconciliation(ctx: Context) -> ReconciliationReport:
    body: RunReconciliation = ctx.body
    # the caller's own mistakes first, then whether the bank is there
    supported(body.currency)
    check_date(body.date, "date")
    bank = ctx.app[PAYOUTS].bank
    if bank is None:
        raise UnavailableError(
            "the designated bank is not connected", code="BANK_UNAVAILABLE", retry_after=60
        )
    account = ctx.app[SETTINGS].bank_account_prefix + body.currency
    notices = Notices()
    try:
        async with ctx.runtime.pool.acquire() as conn:
            report = await reconcile(
                conn, bank, account, body.currency, body.date, ctx.app[CLOCK].now(), notices,
                ctx.caller.participant_id,
            )  # fmt: skip
            await ctx.audit(
                conn, "reconciliation.run", f"reconciliation:{body.currency}:{body.date}",
                {"clean": report.clean, "recovered": report.recovered},
            )  # fmt: skip
    except BankError as exc:
        raise UnavailableError(
            f"the bank's statement could not be fetched: {exc}", code="BANK_UNAVAILABLE"
        ) from None
    finally:
        notices.publish(ctx.app[MARKET])  # what was recovered is committed
    return report


@routes.route(
    "GET",
    "/v1/reconciliations",
    summary="Reconciliations run so far, newest first",
    roles=OPERATOR,
    query=ReconciliationQuery,
    response=Page[Reconciliation],
)
async def list_reconciliations(ctx: Context) -> Page[Reconciliation]:
    query: ReconciliationQuery = ctx.query
    if query.currency is not None:
        supported(query.currency)
    before = decode_cursor(query.cursor, int)
    rows = await ctx.runtime.pool.fetch(
        """SELECT id, run_at, run_by, report::text AS report FROM reconciliations
            WHERE ($1::text IS NULL OR currency = $1) AND id < coalesce($2, 9223372036854775807)
            ORDER BY id DESC LIMIT $3""",
        query.currency,
        before,
        query.limit + 1,
    )
    found = [
        Reconciliation(
            id=row["id"],
            run_at=row["run_at"],
            run_by=row["run_by"],
            report=_REPORT.decode(row["report"]),
        )
        for row in rows
    ]
    return page_of(found, query.limit, lambda r: r.id)
