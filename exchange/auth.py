"""Who is calling: API key -> participant, roles and status."""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from exchange.keys import hash_api_key
from exchange.messages.participants import Role


@dataclass(frozen=True, slots=True)
class Principal:
    participant_id: int
    key_id: int
    roles: frozenset[Role]
    suspended: bool
    home_region: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_operator(self) -> bool:
        return Role.OPERATOR in self.roles


async def authenticate(pool: asyncpg.Pool, key: str) -> Principal | None:
    """The principal holding this key, or None if the key is unknown or revoked."""
    if len(key) > 200:
        return None
    row = await pool.fetchrow(
        """SELECT k.id AS key_id, p.id, p.roles, p.status, p.home_region
             FROM api_keys k JOIN participants p ON p.id = k.participant_id
            WHERE k.key_hash = $1 AND k.revoked_at IS NULL""",
        hash_api_key(key),
    )
    if row is None:
        return None
    return Principal(
        participant_id=row["id"],
        key_id=row["key_id"],
        roles=frozenset(Role(role) for role in row["roles"]),
        suspended=row["status"] != "active",
        home_region=row["home_region"],
    )


class Authenticator:
    """Key lookups with a short-lived cache, emptied whenever keys or participants change.

    Changes made through this process take effect at once; with several processes, a change
    made by another one is seen here within `ttl` seconds.
    """

    def __init__(self, pool: asyncpg.Pool, ttl: float = 5.0) -> None:
        self._pool = pool
        self._ttl = ttl
        self._cache: dict[str, tuple[Principal, float]] = {}

    def cached(self, key: str) -> Principal | None:
        """The holder of a key looked up lately, without asking the database."""
        hit = self._cache.get(key)
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    async def principal(self, key: str) -> Principal | None:
        """Who holds this key; None for an unknown or revoked key."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = await authenticate(self._pool, key)
        if principal is not None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = (principal, now + self._ttl)
        return principal

    def forget_all(self) -> None:
        """Keys or participants changed: look every key up again."""
        self._cache.clear()
