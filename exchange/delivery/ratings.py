"""Ratings: after a contract ends, each party may rate the other once (1 to 5, a comment);
the ratings feed the counterparty's credit profile."""

from __future__ import annotations

from datetime import datetime

from exchange.audit import audit
from exchange.contracts import lifecycle
from exchange.db import Conn
from exchange.delivery.errors import AlreadyRatedError, NotRatableError
from exchange.errors import NotFoundError
from exchange.messages.contracts import ContractStatus
from exchange.messages.outcomes import RateCounterparty, Rating

S = ContractStatus
RATABLE = frozenset({S.COMPLETED, S.REFUNDED, S.PARTIALLY_REFUNDED})


async def rate(
    conn: Conn,
    contract_id: int,
    rater_id: int,
    body: RateCounterparty,
    now: datetime,
    request_id: str | None = None,
) -> Rating:
    """`rater_id` (a party of the contract) rates the other party; once each."""
    row = await lifecycle.fetch_contract(conn, contract_id)
    if row is None or rater_id not in (row["buyer_id"], row["seller_id"]):
        raise NotFoundError(f"contract {contract_id} does not exist", code="UNKNOWN_CONTRACT")
    if ContractStatus(row["status"]) not in RATABLE:
        raise NotRatableError(f"contract {contract_id} is {row['status']}: not ended yet")
    ratee = row["seller_id"] if rater_id == row["buyer_id"] else row["buyer_id"]
    inserted = await conn.fetchrow(
        "INSERT INTO ratings (commodity_id, contract_id, rater_id, ratee_id, score, comment,"
        " rated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
        " RETURNING rated_at",
        row["commodity_id"], contract_id, rater_id, ratee, body.score, body.comment, now,
    )  # fmt: skip
    if inserted is None:
        raise AlreadyRatedError(f"participant {rater_id} has rated contract {contract_id} already")
    await audit(conn, rater_id, "contract.rated", f"contract:{contract_id}",
                {"ratee_id": ratee, "score": body.score}, request_id)  # fmt: skip
    return Rating(
        contract_id=contract_id, rater_id=rater_id, ratee_id=ratee, score=body.score,
        comment=body.comment, rated_at=now,
    )  # fmt: skip
