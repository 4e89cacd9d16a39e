"""Participants, API keys and `/v1/me`."""

from __future__ import annotations

import msgspec

from exchange import participants as store
from exchange.api.endpoint import ANY_PARTICIPANT, Context, Owned, Routes
from exchange.appkeys import MARKET, SETTINGS
from exchange.delivery.credit import credit_score
from exchange.errors import ConflictError, NotFoundError
from exchange.messages.common import Page, PageQuery
from exchange.messages.participants import (
    ApiKeyInfo,
    CreateParticipant,
    IssuedKey,
    IssueKey,
    Me,
    Participant,
    ParticipantCreated,
    ParticipantQuery,
    ParticipantStatus,
    Role,
    UpdateParticipant,
)
from exchange.messages.withdrawals import RegisterBankAccount
from exchange.pagination import decode_cursor, page_of

routes = Routes("participants")
OPERATOR = [Role.OPERATOR]


@routes.route(
    "POST",
    "/v1/participants",
    summary="Register a participant (a company) and issue its first API key",
    roles=OPERATOR,
    body=CreateParticipant,
    response=ParticipantCreated,
    status=201,
    errors=[409],
)
async def create_participant(ctx: Context) -> ParticipantCreated:
    body: CreateParticipant = ctx.body
    async with ctx.transaction() as conn:
        participant = await store.create_participant(conn, body)
        key = await store.issue_key(conn, participant.id, body.key_label or "initial")
        await ctx.audit(
            conn,
            "participant.create",
            f"participant:{participant.id}",
            {"roles": [str(r) for r in body.roles]},
        )
    return ParticipantCreated(participant=participant, api_key=key)


@routes.route(
    "GET",
    "/v1/participants",
    summary="List participants, oldest first",
    roles=OPERATOR,
    query=ParticipantQuery,
    response=Page[Participant],
)
async def list_participants(ctx: Context) -> Page[Participant]:
    query: ParticipantQuery = ctx.query
    rows = await store.list_participants(
        ctx.runtime.pool,
        decode_cursor(query.cursor, int),
        query.limit + 1,
        query.status,
        query.role,
    )
    page = page_of(rows, query.limit, lambda p: p.id)
    return msgspec.structs.replace(page, data=[await _scored(ctx, p) for p in page.data])


async def _scored(ctx: Context, participant: Participant) -> Participant:
    """The participant with its credit score, as the directory shows it."""
    score = await credit_score(ctx.runtime.pool, participant.id)
    return msgspec.structs.replace(participant, credit_score=score)


@routes.route(
    "GET",
    "/v1/participants/{participant_id}",
    summary="One participant",
    roles=OPERATOR,
    response=Participant,
)
async def get_participant(ctx: Context) -> Participant:
    found = await store.get_participant(ctx.runtime.pool, ctx.int_param("participant_id"))
    return await _scored(ctx, found)


@routes.route(
    "PATCH",
    "/v1/participants/{participant_id}",
    summary="Change a participant's name, contact, home region or roles; removing the buyer"
    " or supplier role cancels its resting orders on that side (reason role_removed)",
    roles=OPERATOR,
    body=UpdateParticipant,
    response=Participant,
    errors=[409],
)
async def update_participant(ctx: Context) -> Participant:
    pid = ctx.int_param("participant_id")
    async with ctx.transaction() as conn:
        updated = await store.update_participant(conn, pid, ctx.body)
        await ctx.audit(conn, "participant.update", f"participant:{pid}")
    ctx.runtime.auth.forget_all()
    if ctx.body.roles is not msgspec.UNSET:
        # every book cancels the resting orders on a side whose role is gone (reason
        # role_removed) in its next batch, before it matches anything else; here, before
        # answering
        await ctx.runtime.books.sync()
    return updated


async def _set_status(ctx: Context, status: ParticipantStatus) -> Participant:
    pid = ctx.int_param("participant_id")
    if pid == ctx.caller.participant_id and status is ParticipantStatus.SUSPENDED:
        raise ConflictError("an operator cannot suspend itself", code="CANNOT_SUSPEND_SELF")
    async with ctx.transaction() as conn:
        participant = await store.set_status(conn, pid, status)
        await ctx.audit(conn, f"participant.{status}", f"participant:{pid}")
    ctx.runtime.auth.forget_all()
    if status is ParticipantStatus.SUSPENDED:
        # every book cancels the participant's resting orders (reason participant_suspended)
        # in its next batch, before it matches anything else; here, before answering
        await ctx.runtime.books.sync()
        ctx.app[MARKET].hub.shut_out(pid, "PARTICIPANT_SUSPENDED", "the participant is suspended")
    return participant


@routes.route(
    "POST",
    "/v1/participants/{participant_id}/suspend",
    summary="Suspend a participant: every call with its keys is refused until reactivated,"
    " and its resting orders are cancelled (reason participant_suspended)",
    roles=OPERATOR,
    response=Participant,
    errors=[409],
)
async def suspend_participant(ctx: Context) -> Participant:
    return await _set_status(ctx, ParticipantStatus.SUSPENDED)


@routes.route(
    "POST",
    "/v1/participants/{participant_id}/reactivate",
    summary="Reactivate a suspended participant",
    roles=OPERATOR,
    response=Participant,
)
async def reactivate_participant(ctx: Context) -> Participant:
    return await _set_status(ctx, ParticipantStatus.ACTIVE)


def _own_or_operator(ctx: Context) -> int:
    """Keys are managed by operators, or by the participant for its own keys."""
    pid = ctx.int_param("participant_id")
    if pid != ctx.caller.participant_id and not ctx.caller.is_operator:
        raise NotFoundError(f"participant {pid} does not exist", code="UNKNOWN_PARTICIPANT")
    return pid


@routes.route(
    "GET",
    "/v1/participants/{participant_id}/keys",
    summary="A participant's API keys (never the secrets), oldest first",
    query=PageQuery,
    response=Page[ApiKeyInfo],
    roles=ANY_PARTICIPANT,
    owned=Owned("participant_id", operators=True),
)
async def list_keys(ctx: Context) -> Page[ApiKeyInfo]:
    pid = _own_or_operator(ctx)
    query: PageQuery = ctx.query
    await store.get_participant(ctx.runtime.pool, pid)
    rows = await store.list_keys(
        ctx.runtime.pool, pid, decode_cursor(query.cursor, int), query.limit + 1
    )
    return page_of(rows, query.limit, lambda key: key.id)


@routes.route(
    "POST",
    "/v1/participants/{participant_id}/keys",
    summary="Issue a new API key; with `replaces_key_id` the old key is revoked (rotation)",
    body=IssueKey,
    response=IssuedKey,
    status=201,
    roles=ANY_PARTICIPANT,
    owned=Owned("participant_id", operators=True),
    errors=[409],
)
async def issue_key(ctx: Context) -> IssuedKey:
    pid = _own_or_operator(ctx)
    body: IssueKey = ctx.body
    async with ctx.transaction() as conn:
        await store.get_participant(conn, pid)
        key = await store.issue_key(
            conn, pid, body.label, body.replaces_key_id, ctx.app[SETTINGS].max_keys_per_participant
        )
        await ctx.audit(
            conn,
            "key.issue",
            f"participant:{pid}",
            {"key_id": key.id, "replaces": body.replaces_key_id},
        )
    ctx.runtime.auth.forget_all()
    if body.replaces_key_id is not None:
        ctx.app[MARKET].hub.shut_out_key(
            body.replaces_key_id, "API_KEY_REVOKED", "the API key was replaced by a new one"
        )
    return key


@routes.route(
    "DELETE",
    "/v1/participants/{participant_id}/keys/{key_id}",
    summary="Revoke an API key at once",
    response=ApiKeyInfo,
    roles=ANY_PARTICIPANT,
    owned=Owned("participant_id", operators=True),
    errors=[409],
)
async def revoke_key(ctx: Context) -> ApiKeyInfo:
    pid = _own_or_operator(ctx)
    key_id = ctx.int_param("key_id")
    async with ctx.transaction() as conn:
        info = await store.revoke_key(conn, pid, key_id)
        await ctx.audit(conn, "key.revoke", f"participant:{pid}", {"key_id": key_id})
    ctx.runtime.auth.forget_all()
    ctx.app[MARKET].hub.shut_out_key(key_id, "API_KEY_REVOKED", "the API key was revoked")
    return info


@routes.route(
    "PUT",
    "/v1/participants/{participant_id}/bank-account",
    summary="Register the participant's account at the designated bank, where its withdrawals"
    " go (the participant itself, or an operator)",
    body=RegisterBankAccount,
    response=Participant,
    roles=ANY_PARTICIPANT,
    owned=Owned("participant_id", operators=True),
)
async def register_bank_account(ctx: Context) -> Participant:
    pid = _own_or_operator(ctx)
    body: RegisterBankAccount = ctx.body
    async with ctx.transaction() as conn:
        participant = await store.set_bank_account(conn, pid, body.bank_account)
        await ctx.audit(
            conn,
            "participant.bank_account",
            f"participant:{pid}",
            {"bank_account": body.bank_account},
        )
    return participant


@routes.route(
    "GET", "/v1/me", summary="The calling participant and key", roles=ANY_PARTICIPANT, response=Me
)
async def me(ctx: Context) -> Me:
    participant = await store.get_participant(ctx.runtime.pool, ctx.caller.participant_id)
    return Me(participant=participant, key_id=ctx.caller.key_id)
