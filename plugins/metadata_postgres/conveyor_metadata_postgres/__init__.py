"""PostgresStore: PostgreSQL as conveyor's metadata database, on psycopg 3.

Set ``CONVEYOR_DATABASE_URL=postgresql://user:password@host:5432/dbname`` and every
process, on every machine, records its runs in that one database.

Modules: ``backend`` (:class:`PostgresBackend`, what the hook registers: psycopg is imported
only when a PostgreSQL URL is first used), ``postgres`` (:class:`PostgresStore`), ``connections`` (a connection per thread,
timeouts, transactions, reads), ``schema`` (its migrations, applied under an advisory
lock), ``writes`` (how the shared batched writer's batches are committed, with retries),
``rows`` (rows by name and position),
``errors`` (one line per failure, the password never shown); ``testing``: pytest
fixtures that start a real PostgreSQL server with ``pgserver``.
"""

from __future__ import annotations

from typing import Any

from conveyor_metadata_postgres.backend import PostgresBackend


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":  # imported on first use: it imports psycopg
        from conveyor_metadata_postgres.postgres import (  # lazy: psycopg only when asked for
            PostgresStore,
        )

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PostgresBackend", "PostgresStore"]
