"""Money at the center: one's own balances and ledger entries; for operators, anyone's, the
center's own accounts and the ledger's trial balance."""

from __future__ import annotations

from exchange.api.endpoint import ANY_PARTICIPANT, Context, Routes
from exchange.errors import ForbiddenError, NotFoundError
from exchange.messages.common import Page
from exchange.messages.participants import Role
from exchange.messages.payments import (
    Accounts,
    AccountsQuery,
    CenterAccounts,
    Entry,
    EntryQuery,
    TrialBalance,
)
from exchange.pagination import decode_cursor
from exchange.payments import ledger_store, views

routes = Routes("accounts")
OPERATOR = [Role.OPERATOR]


async def _whose(ctx: Context, participant_id: int | None) -> int:
    """The caller, or (operators only) the participant the query names."""
    caller = ctx.caller
    if participant_id is None or participant_id == caller.participant_id:
        return caller.participant_id
    if not caller.is_operator:
        raise ForbiddenError(
            "only operators may name another participant's accounts", code="ROLE_REQUIRED"
        )
    known = await ctx.runtime.pool.fetchval(
        "SELECT true FROM participants WHERE id = $1", participant_id
    )
    if not known:
        raise NotFoundError(
            f"participant {participant_id} does not exist", code="UNKNOWN_PARTICIPANT"
        )
    return participant_id


@routes.route(
    "GET",
    "/v1/accounts",
    summary="Own balances per currency: available, in escrow (as buyer), reserved for"
    " withdrawals, and the deposit reference (operators: participant_id names whose)",
    query=AccountsQuery,
    response=Accounts,
    roles=ANY_PARTICIPANT,
    errors=[404],
)
async def get_accounts(ctx: Context) -> Accounts:
    query: AccountsQuery = ctx.query
    whose = await _whose(ctx, query.participant_id)
    return await views.accounts_of(ctx.runtime.pool, whose)


@routes.route(
    "GET",
    "/v1/accounts/entries",
    summary="Own ledger entries (every transfer into or out of the available funds), newest"
    " first (operators: participant_id names whose)",
    query=EntryQuery,
    response=Page[Entry],
    roles=ANY_PARTICIPANT,
    errors=[404],
)
async def list_entries(ctx: Context) -> Page[Entry]:
    query: EntryQuery = ctx.query
    whose = await _whose(ctx, query.participant_id)
    before = decode_cursor(query.cursor, int)
    return await views.entries_of(ctx.runtime.pool, whose, before, query.limit)


@routes.route(
    "GET",
    "/v1/accounts/center",
    summary="The center's own accounts per currency: fee revenue, clearing (minus what the bank"
    " holds), withdrawals in flight, suspense",
    response=CenterAccounts,
    roles=OPERATOR,
)
async def get_center_accounts(ctx: Context) -> CenterAccounts:
    return await views.center_accounts(ctx.runtime.pool)


@routes.route(
    "GET",
    "/v1/ledger/trial-balance",
    summary="The ledger's invariants as stored: balances sum to zero, no limited account is"
    " below zero, every balance equals its transfers",
    response=TrialBalance,
    roles=OPERATOR,
)
async def get_trial_balance(ctx: Context) -> TrialBalance:
    async with ctx.runtime.pool.acquire() as conn:
        found = await ledger_store.trial_balance(conn)
    return TrialBalance(
        holds=found.holds,
        # sums come back as numeric: whole numbers of minor units, held exactly
        posted_minor=int(found.posted),
        pending_minor=int(found.pending),
        least_limited_minor=None if found.least_limited is None else int(found.least_limited),
        unlike_transfers=found.unlike_transfers,
        transfers=found.transfers,
    )
