"""Persistence: embedded PostgreSQL, migrations, connection pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # a connection of our own or one lent by the pool; either runs queries and transactions
    Conn: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]
    Queryable: TypeAlias = Conn | asyncpg.Pool[Any]
else:
    Conn = Queryable = Any
