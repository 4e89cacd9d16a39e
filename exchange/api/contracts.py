"""Contracts: the parties' and operators' view, review, verification, the printable document."""

from __future__ import annotations

import base64

from aiohttp import web

from exchange.api.endpoint import ANY_PARTICIPANT, Context, Owned, Routes
from exchange.appkeys import CLOCK, MARKET
from exchange.contracts import lifecycle
from exchange.contracts.document import render
from exchange.contracts.signing import public_pem
from exchange.contracts.verify import public_keys, verify_one
from exchange.contracts.views import CONTRACT_COLUMNS, contract_from_row
from exchange.delivery.credit import credit_score
from exchange.errors import NotFoundError
from exchange.ids import commodity_of
from exchange.messages.common import Page
from exchange.messages.contracts import (
    Approval,
    Contract,
    ContractDetail,
    ContractQuery,
    ContractStatus,
    PartyStanding,
    PublicKey,
    Review,
    Verification,
    VerificationProblem,
)
from exchange.messages.participants import Role
from exchange.pagination import decode_cursor, page_of

routes = Routes("contracts")
OPERATOR = [Role.OPERATOR]


async def _visible(ctx: Context) -> Contract:
    """The contract, if the caller is one of its parties or an operator; else 404."""
    contract_id = ctx.int_param("contract_id")
    row = await lifecycle.fetch_contract(ctx.runtime.pool, contract_id)
    caller = ctx.caller
    if row is None or not (
        caller.is_operator or caller.participant_id in (row["buyer_id"], row["seller_id"])
    ):
        raise NotFoundError(f"contract {contract_id} does not exist", code="UNKNOWN_CONTRACT")
    return contract_from_row(row)


@routes.route(
    "GET",
    "/v1/contracts",
    summary="Contracts the caller is a party to (operators: every contract), newest first",
    query=ContractQuery,
    response=Page[Contract],
    roles=ANY_PARTICIPANT,
)
async def list_contracts(ctx: Context) -> Page[Contract]:
    query: ContractQuery = ctx.query
    before = decode_cursor(query.cursor, int)
    everyone = ctx.caller.is_operator
    rows = await ctx.runtime.pool.fetch(
        f"""SELECT {CONTRACT_COLUMNS} FROM contracts c
             WHERE ($1 OR c.buyer_id = $2 OR c.seller_id = $2)
               AND ($3::text IS NULL OR c.status = $3)
               AND ($4::text IS NULL OR c.commodity_id =
                    (SELECT id FROM commodities WHERE code = $4))
               AND (c.signed_at, c.id) < (
                    coalesce((SELECT signed_at FROM contracts
                              WHERE commodity_id = $7 AND id = $5), 'infinity'),
                    coalesce($5, 9223372036854775807))
             ORDER BY c.signed_at DESC, c.id DESC LIMIT $6""",
        everyone,
        ctx.caller.participant_id,
        query.status,
        query.commodity,
        before,
        query.limit + 1,
        commodity_of(before) if before is not None else None,
    )
    return page_of([contract_from_row(row) for row in rows], query.limit, lambda c: c.id)


@routes.route(
    "GET",
    "/v1/contracts/public-key",
    summary="The center's Ed25519 public key that signs contracts (and any earlier keys)",
    response=PublicKey,
    roles=ANY_PARTICIPANT,
)
async def get_public_key(ctx: Context) -> PublicKey:
    signer = ctx.runtime.signer
    keys = await public_keys(ctx.runtime.pool)
    return PublicKey(
        algorithm="Ed25519",
        public_key=signer.public_raw.hex(),
        public_key_pem=public_pem(signer.public_raw),
        key_id=signer.key_id,
        earlier_keys=[raw.hex() for key_id, raw in sorted(keys.items()) if key_id != signer.key_id],
    )


@routes.route(
    "GET",
    "/v1/contracts/{contract_id}",
    summary="One contract with every term and its history (parties and operators only)",
    response=ContractDetail,
    roles=ANY_PARTICIPANT,
    owned=Owned("contract_id", operators=True),
)
async def get_contract(ctx: Context) -> ContractDetail:
    contract = await _visible(ctx)
    pool = ctx.runtime.pool
    parties = [
        PartyStanding(
            role=role,
            participant_id=party.participant_id,
            legal_name=party.legal_name,
            credit_score=await credit_score(pool, party.participant_id),
        )
        for role, party in (("seller", contract.terms.seller), ("buyer", contract.terms.buyer))
    ]
    return ContractDetail(
        contract=contract, history=await lifecycle.history(pool, contract.id), parties=parties
    )


async def _review(ctx: Context, target: ContractStatus, reason: str) -> Contract:
    contract_id = ctx.int_param("contract_id")
    async with ctx.transaction() as conn:
        contract = await lifecycle.transition(
            conn, contract_id, target, ctx.caller.participant_id, reason, ctx.app[CLOCK].now()
        )
        await ctx.audit(conn, f"contract.{target}", f"contract:{contract_id}", {"reason": reason})
    ctx.app[MARKET].contract_changed(str(target), contract)
    return contract


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/approve",
    summary="Approve a contract waiting for review: it takes effect and awaits payment",
    roles=OPERATOR,
    body=Approval,
    response=Contract,
    errors=[409],
)
async def approve_contract(ctx: Context) -> Contract:
    body: Approval = ctx.body
    return await _review(ctx, ContractStatus.AWAITING_PAYMENT, body.reason or "approved")


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/reject",
    summary="Reject a contract waiting for review, with a reason: it is void and both parties"
    " are told",
    roles=OPERATOR,
    body=Review,
    response=Contract,
    errors=[409],
)
async def reject_contract(ctx: Context) -> Contract:
    body: Review = ctx.body
    return await _review(ctx, ContractStatus.REJECTED, body.reason)


@routes.route(
    "GET",
    "/v1/contracts/{contract_id}/verification",
    summary="Check one contract, and everything a third party needs to check it offline",
    response=Verification,
    roles=ANY_PARTICIPANT,
    owned=Owned("contract_id", operators=True),
)
async def verify_contract(ctx: Context) -> Verification:
    contract = await _visible(ctx)
    row, findings = await verify_one(ctx.runtime.pool, contract.id)
    keys = await public_keys(ctx.runtime.pool)
    key = keys.get(row["key_id"], b"")
    return Verification(
        contract_id=contract.id,
        number=contract.number,
        valid=not findings,
        problems=[
            VerificationProblem(contract_id=f.contract_id, number=f.number, problem=f.problem)
            for f in findings
        ],
        algorithm="Ed25519 over the canonical terms",
        hash_algorithm="SHA-256 of the canonical terms",
        canonical_terms=bytes(row["terms"]).decode(),
        hash=bytes(row["hash"]).hex(),
        previous_hash=bytes(row["previous_hash"]).hex(),
        signature=base64.b64encode(bytes(row["signature"])).decode(),
        public_key=key.hex(),
        public_key_pem=public_pem(key) if key else "",
    )


@routes.route(
    "GET",
    "/v1/contracts/{contract_id}/document",
    summary="The contract as a printable HTML document",
    content_type="text/html",
    roles=ANY_PARTICIPANT,
    owned=Owned("contract_id", operators=True),
)
async def contract_document(ctx: Context) -> web.Response:
    contract = await _visible(ctx)
    history = await lifecycle.history(ctx.runtime.pool, contract.id)
    signer = ctx.runtime.signer
    html = render(contract, history, public_pem(signer.public_raw))
    return web.Response(text=html, content_type="text/html")
