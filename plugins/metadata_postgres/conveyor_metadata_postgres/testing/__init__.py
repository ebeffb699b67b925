"""Test support of conveyor-metadata-postgres: a real PostgreSQL server from ``pgserver``.

- :mod:`conveyor_metadata_postgres.testing.server`: :func:`start_postgres`, a context
  manager yielding a running :class:`PostgresServer` (PostgreSQL 16 from the ``pgserver``
  wheel, in a fresh temporary folder, reached over a Unix socket), and
  :meth:`PostgresServer.fresh_schema`, a URL whose tables go to a new empty schema.
- :mod:`conveyor_metadata_postgres.testing.fixtures`: a pytest plugin with the fixtures
  built on them (``postgres_server`` for the session, ``postgres_url``: an empty schema
  for one test).

This package re-exports ``server``'s names (importing it needs neither pytest nor pgserver).
"""

from conveyor_metadata_postgres.testing.server import PostgresServer, start_postgres

__all__ = ["PostgresServer", "start_postgres"]
