"""Which errors mean 'the database is away' (503) and which are bugs or refusals."""

import asyncpg
import pytest

from exchange.db.embedded import free_port
from exchange.db.health import database_unavailable


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.CrashShutdownError("terminating connection because of crash of another"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    ],
)
def test_server_going_or_gone_is_unavailable(error):
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.RaiseError("order poison-1 is poisoned"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        ConnectionRefusedError("not from the database driver"),
        ValueError("a bug"),
    ],
)
def test_refusals_and_bugs_are_not(error):
    assert not database_unavailable(error)


async def test_a_refused_connection_is_unavailable():
    with pytest.raises(ConnectionRefusedError) as refused:
        await asyncpg.connect(host="127.0.0.1", port=free_port(), user="x", timeout=5)

    assert database_unavailable(refused.value)


def test_an_error_caused_by_a_lost_connection_is_unavailable():
    try:
        try:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed")
        except asyncpg.PostgresError as lost:
            raise asyncpg.InterfaceError("cannot call Transaction.__aexit__()") from lost
    except asyncpg.InterfaceError as raised:
        error = raised

    assert database_unavailable(error)
