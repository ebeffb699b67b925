"""A psycopg failure as one line: what went wrong with which database (its URL with the
password masked, never the password), and what to do."""

from __future__ import annotations

import psycopg
from conveyor.exceptions import DatabaseLockedError, MetadataError
from conveyor.metadata import masked
from psycopg import errors

#: Seconds a connection attempt may take (libpq ``connect_timeout``).
CONNECT_TIMEOUT = 10
#: Longest a statement may run, and wait for a row or table lock, in milliseconds.
STATEMENT_TIMEOUT_MS = 60_000
LOCK_TIMEOUT_MS = 30_000
#: A session idle inside a transaction this long is ended by the server (a stuck client
#: never holds locks for ever).
IDLE_IN_TRANSACTION_MS = 60_000


def _first_line(exc: BaseException, password: str | None) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text.replace(password, "***") if password else text


def pg_error(
    exc: BaseException, url: str, action: str, password: str | None = None
) -> MetadataError:
    """One line saying what went wrong in ``action`` on the database at ``url``."""
    where = masked(url)
    text = _first_line(exc, password)
    if isinstance(exc, errors.LockNotAvailable):
        return DatabaseLockedError(
            f"the metadata database {where} kept a lock for {LOCK_TIMEOUT_MS // 1000} s, so this "
            f"{action} could not go on; wait for the session holding it to finish (see "
            f"pg_stat_activity), then try again"
        )
    if isinstance(exc, errors.QueryCanceled):
        return MetadataError(
            f"a {action} on the metadata database {where} took longer than "
            f"{STATEMENT_TIMEOUT_MS // 1000} s and was cancelled ({text}); check the server's "
            f"load, then try again"
        )
    if isinstance(exc, errors.InsufficientPrivilege):
        return MetadataError(
            f"the metadata database {where} refused a {action} ({text}): the user of "
            f"CONVEYOR_DATABASE_URL needs the right to create tables in its schema and to "
            f"read and write them; grant them, or use another user"
        )
    if isinstance(exc, errors.DiskFull):
        return MetadataError(
            f"the metadata database {where} cannot grow: the server's disk is full ({text}); "
            f"free space on the server, then try again"
        )
    if isinstance(exc, psycopg.OperationalError) and action == "connect":
        return MetadataError(
            f"cannot connect to the metadata database {where} ({text}); check "
            f"CONVEYOR_DATABASE_URL (host, port, user, password, database) and that the "
            f"PostgreSQL server is running and reachable from here"
        )
    if isinstance(exc, psycopg.OperationalError):
        return MetadataError(
            f"the connection to the metadata database {where} failed during a {action} "
            f"({text}); what was committed before is kept: check the server, then try again"
        )
    return MetadataError(
        f"the metadata database {where} failed to {action}: {type(exc).__name__}: {text}"
    )


__all__ = [
    "CONNECT_TIMEOUT",
    "IDLE_IN_TRANSACTION_MS",
    "LOCK_TIMEOUT_MS",
    "STATEMENT_TIMEOUT_MS",
    "pg_error",
]
