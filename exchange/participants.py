"""Participants and their API keys in PostgreSQL."""

from __future__ import annotations

import asyncpg
import msgspec

from exchange.db import Conn, Queryable
from exchange.errors import ConflictError, NotFoundError, UnprocessableError
from exchange.keys import display_prefix, hash_api_key, new_api_key
from exchange.messages.participants import (
    ApiKeyInfo,
    Contact,
    CreateParticipant,
    IssuedKey,
    Participant,
    ParticipantStatus,
    Role,
    UpdateParticipant,
)
from exchange.orders.gate import move_gate

# Serialises changes that could take away the last operator, so two of them cannot each see
# the other operator and together leave none.
OPERATORS_LOCK = 0x7E_C4_0B_E7

_COLUMNS = """id, legal_name, registration_number, contact_name, contact_email, contact_phone,
              home_region, roles, status, created_at, updated_at, bank_account"""


def participant_from_row(row: asyncpg.Record) -> Participant:
    return Participant(
        id=row["id"],
        legal_name=row["legal_name"],
        registration_number=row["registration_number"],
        contact=Contact(
            name=row["contact_name"], email=row["contact_email"], phone=row["contact_phone"]
        ),
        home_region=row["home_region"],
        roles=[Role(role) for role in row["roles"]],
        status=ParticipantStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        bank_account=row["bank_account"],
    )


async def lock_operators(conn: Conn) -> None:
    """Take the lock of changes to operators (held until the transaction ends)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", OPERATORS_LOCK)


async def check_operator_left(conn: Conn) -> None:
    """409 (the transaction rolls back) unless an active operator with a usable key remains."""
    left = await conn.fetchval(
        """SELECT count(*) FROM participants p
            WHERE 'operator' = ANY (p.roles) AND p.status = 'active'
              AND EXISTS (SELECT 1 FROM api_keys k
                           WHERE k.participant_id = p.id AND k.revoked_at IS NULL)"""
    )
    if not left:
        raise ConflictError(
            "the center must keep an active operator with a usable key; this change would"
            " leave none",
            code="LAST_OPERATOR",
        )


async def _check_region(conn: Conn, code: str | None) -> None:
    if (
        code is not None
        and await conn.fetchval("SELECT 1 FROM regions WHERE code=$1", code) is None
    ):
        raise UnprocessableError(
            f"region {code!r} does not exist",
            code="UNKNOWN_REGION",
            field_errors=[("$.home_region", "unknown region")],
        )


async def create_participant(conn: Conn, new: CreateParticipant) -> Participant:
    await _check_region(conn, new.home_region)
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO participants (legal_name, registration_number, contact_name,
                    contact_email, contact_phone, home_region, roles)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
            new.legal_name,
            new.registration_number,
            new.contact.name,
            new.contact.email,
            new.contact.phone,
            new.home_region,
            [str(role) for role in new.roles],
        )
    except asyncpg.UniqueViolationError:
        raise ConflictError(
            f"a participant with registration number {new.registration_number!r} exists",
            code="DUPLICATE_PARTICIPANT",
        ) from None
    assert row is not None
    return participant_from_row(row)


async def set_bank_account(conn: Conn, pid: int, bank_account: str) -> Participant:
    """Register the participant's account at the designated bank (withdrawals go there)."""
    row = await conn.fetchrow(
        f"UPDATE participants SET bank_account=$2, updated_at=now()"
        f" WHERE id=$1 RETURNING {_COLUMNS}",
        pid,
        bank_account,
    )
    if row is None:
        raise NotFoundError(f"participant {pid} does not exist", code="UNKNOWN_PARTICIPANT")
    return participant_from_row(row)


async def get_participant(conn: Queryable, pid: int) -> Participant:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM participants WHERE id=$1", pid)
    if row is None:
        raise NotFoundError(f"participant {pid} does not exist", code="UNKNOWN_PARTICIPANT")
    return participant_from_row(row)


async def list_participants(
    pool: Queryable, after: int | None, limit: int, status: str | None, role: str | None
) -> list[Participant]:
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM participants
             WHERE id > $1 AND ($2::text IS NULL OR status = $2)
               AND ($3::text IS NULL OR $3 = ANY (roles))
             ORDER BY id LIMIT $4""",
        after or 0,
        status,
        role,
        limit,
    )
    return [participant_from_row(row) for row in rows]


async def update_participant(conn: Conn, pid: int, change: UpdateParticipant) -> Participant:
    """Change what `change` gives; call it first in its transaction (a change of roles moves
    the trading gate, which waits for the books' batches in flight)."""
    if change.roles is not msgspec.UNSET:
        await move_gate(conn, pid)  # what it may trade changes: let the books know
    current = await get_participant(conn, pid)
    if change.home_region is not msgspec.UNSET:
        await _check_region(conn, change.home_region)
    if change.roles is not msgspec.UNSET and Role.OPERATOR not in change.roles:
        await lock_operators(conn)
    merged = msgspec.structs.replace(
        current,
        **{k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET},
    )
    row = await conn.fetchrow(
        f"""UPDATE participants SET legal_name=$2, contact_name=$3, contact_email=$4,
                   contact_phone=$5, home_region=$6, roles=$7, updated_at=now()
             WHERE id=$1 RETURNING {_COLUMNS}""",
        pid,
        merged.legal_name,
        merged.contact.name,
        merged.contact.email,
        merged.contact.phone,
        merged.home_region,
        [str(role) for role in merged.roles],
    )
    assert row is not None
    if Role.OPERATOR in current.roles and Role.OPERATOR not in merged.roles:
        await check_operator_left(conn)
    return participant_from_row(row)


async def set_status(conn: Conn, pid: int, status: ParticipantStatus) -> Participant:
    """Suspend or reactivate; call it first in its transaction (it moves the trading gate,
    which waits for the books' batches in flight)."""
    await move_gate(conn, pid)
    if status is ParticipantStatus.SUSPENDED:
        await lock_operators(conn)
    row = await conn.fetchrow(
        f"UPDATE participants SET status=$2, updated_at=now() WHERE id=$1 RETURNING {_COLUMNS}",
        pid,
        str(status),
    )
    if row is None:
        raise NotFoundError(f"participant {pid} does not exist", code="UNKNOWN_PARTICIPANT")
    if status is ParticipantStatus.SUSPENDED and "operator" in row["roles"]:
        await check_operator_left(conn)
    return participant_from_row(row)


async def _check_key_cap(conn: Conn, pid: int, cap: int) -> None:
    # the row lock makes concurrent issues for one participant count one after the other (NO
    # KEY: the books' foreign-key checks on the participant need not wait for it)
    await conn.execute("SELECT 1 FROM participants WHERE id=$1 FOR NO KEY UPDATE", pid)
    active = await conn.fetchval(
        "SELECT count(*) FROM api_keys WHERE participant_id=$1 AND revoked_at IS NULL", pid
    )
    if active >= cap:
        raise ConflictError(
            f"participant {pid} holds {active} active keys, the most allowed;"
            " revoke one or rotate it (replaces_key_id)",
            code="KEY_LIMIT_REACHED",
        )


async def issue_key(
    conn: Conn, pid: int, label: str, replaces: int | None = None, cap: int | None = None
) -> IssuedKey:
    """A new key for the participant; with `replaces`, the old key is revoked atomically.

    With `cap`, 409 if the participant would hold more than `cap` active keys."""
    if replaces is not None:
        revoked = await conn.fetchval(
            "UPDATE api_keys SET revoked_at=now()"
            " WHERE id=$1 AND participant_id=$2 AND revoked_at IS NULL RETURNING id",
            replaces,
            pid,
        )
        if revoked is None:
            raise NotFoundError(
                f"participant {pid} holds no active key {replaces}", code="UNKNOWN_KEY"
            )
    if cap is not None:
        await _check_key_cap(conn, pid, cap)
    key = new_api_key()
    row = await conn.fetchrow(
        "INSERT INTO api_keys (participant_id, key_hash, prefix, label) VALUES ($1, $2, $3, $4)"
        " RETURNING id, created_at",
        pid,
        hash_api_key(key),
        display_prefix(key),
        label,
    )
    assert row is not None
    return IssuedKey(
        id=row["id"], key=key, prefix=display_prefix(key), label=label, created_at=row["created_at"]
    )


async def list_keys(pool: Queryable, pid: int, after: int | None, limit: int) -> list[ApiKeyInfo]:
    rows = await pool.fetch(
        "SELECT id, prefix, label, created_at, revoked_at FROM api_keys"
        " WHERE participant_id=$1 AND id > $2 ORDER BY id LIMIT $3",
        pid,
        after or 0,
        limit,
    )
    return [ApiKeyInfo(**dict(row)) for row in rows]


async def revoke_key(conn: Conn, pid: int, key_id: int) -> ApiKeyInfo:
    await lock_operators(conn)
    row = await conn.fetchrow(
        """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE id=$1 AND participant_id=$2
        RETURNING id, prefix, label, created_at, revoked_at""",
        key_id,
        pid,
    )
    if row is None:
        raise NotFoundError(f"participant {pid} holds no key {key_id}", code="UNKNOWN_KEY")
    if await conn.fetchval("SELECT 'operator' = ANY (roles) FROM participants WHERE id=$1", pid):
        await check_operator_left(conn)
    return ApiKeyInfo(**dict(row))


async def _restore_operator(conn: Conn, pid: int) -> None:
    await move_gate(conn, pid)  # it may be reactivated: let the books know
    await conn.execute(
        """UPDATE participants
              SET roles = CASE WHEN 'operator' = ANY (roles) THEN roles
                               ELSE roles || '{operator}'::text[] END,
                  status = 'active', updated_at = now()
            WHERE id = $1 AND (NOT 'operator' = ANY (roles) OR status <> 'active')""",
        pid,
    )


async def ensure_bootstrap_operator(conn: Conn, key: str) -> int:
    """Make sure an active operator holding `key` exists; return its participant id.

    The key's holder gets back its operator role, active status and key if it lost them: this
    is the way back in when no operator is left."""
    found = await conn.fetchval(
        "SELECT participant_id FROM api_keys WHERE key_hash=$1", hash_api_key(key)
    )
    if found is not None:
        await conn.execute(
            "UPDATE api_keys SET revoked_at=NULL WHERE key_hash=$1", hash_api_key(key)
        )
        await _restore_operator(conn, found)
        return int(found)
    pid = await conn.fetchval(
        """INSERT INTO participants (legal_name, registration_number, contact_name,
                                     contact_email, roles)
           VALUES ('Trading center operations', 'CENTER-BOOTSTRAP-OPERATOR', 'Operations desk',
                   'operations@center.invalid', '{operator}')
           ON CONFLICT (registration_number) DO UPDATE SET updated_at = now()
           RETURNING id"""
    )
    await _restore_operator(conn, pid)  # the center's own participant, under a new key
    await conn.execute(
        "INSERT INTO api_keys (participant_id, key_hash, prefix, label)"
        " VALUES ($1, $2, $3, 'bootstrap')",
        pid,
        hash_api_key(key),
        display_prefix(key),
    )
    return int(pid)
