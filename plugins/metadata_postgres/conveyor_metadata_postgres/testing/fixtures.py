"""pytest fixtures that start a real PostgreSQL server: a pytest plugin.

Load it with ``pytest_plugins = ["conveyor_metadata_postgres.testing.fixtures"]``
(conveyor's root ``conftest.py`` does). It provides:

- ``postgres_server`` (session): PostgreSQL 16 from ``pgserver`` in a temporary folder. If
  ``pgserver`` is not installed the tests that use it FAIL (they do not skip): ``make
  test`` installs it.
- ``postgres_url``: the URL of an empty schema of that server, for one test (dropped after).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conveyor_metadata_postgres.testing.server import PostgresServer, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session."""
    try:
        manager = start_postgres()
        server = manager.__enter__()
    except ImportError as exc:
        pytest.fail(f"{exc}; install the test dependencies: make test (or pip install pgserver)",
                    pytrace=False)
    try:
        yield server
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL whose tables go to a new, empty schema (one per test)."""
    url = postgres_server.fresh_schema()
    yield url
    postgres_server.drop_schema(url)
