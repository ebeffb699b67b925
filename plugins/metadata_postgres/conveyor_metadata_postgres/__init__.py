"""PostgresStore: PostgreSQL as conveyor's metadata database, on psycopg 3.

Set ``CONVEYOR_DATABASE_URL=postgresql://user:password@host:5432/dbname`` and every
process, on every machine, records its runs in that one database.

Modules: ``postgres`` (:class:`PostgresStore`), ``connections`` (a connection per thread,
timeouts, transactions, reads), ``schema`` (its migrations, applied under an advisory
lock), ``writes`` (how the shared batched writer's batches are committed, with retries),
``rows`` (rows by name and position),
``errors`` (one line per failure, the password never shown); ``testing``: pytest
fixtures that start a real PostgreSQL server with ``pgserver``.
"""

from conveyor_metadata_postgres.postgres import PostgresStore

__all__ = ["PostgresStore"]
