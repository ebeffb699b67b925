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

from typing import TYPE_CHECKING

from conveyor.markers import lazy_attributes

if TYPE_CHECKING:
    from conveyor_metadata_postgres.backend import PostgresBackend
    from conveyor_metadata_postgres.postgres import PostgresStore

#: Imported on first use: loading the plugin (its ``hooks`` module) imports neither, and
#: ``PostgresStore`` imports psycopg.
_LAZY = {
    "PostgresBackend": "conveyor_metadata_postgres.backend",
    "PostgresStore": "conveyor_metadata_postgres.postgres",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["PostgresBackend", "PostgresStore"]
