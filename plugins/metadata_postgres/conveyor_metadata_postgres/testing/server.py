"""A real PostgreSQL server for tests and benchmarks: :func:`start_postgres`.

``pgserver`` (a wheel holding PostgreSQL 16's binaries) initialises a data folder and
starts the server on a Unix socket in it; it works as root too. The folder is short (a
socket path has at most ~100 bytes) and removed when the server stops. Each test gets
its own empty schema (:meth:`PostgresServer.fresh_schema`): its URL sets
``search_path`` to it, so the store's tables go there; creating one takes a millisecond,
where a database takes a hundred.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from urllib.parse import quote

import attrs


@attrs.frozen
class PostgresServer:
    """A running server: :attr:`url` of its ``postgres`` database (superuser, no password)."""

    url: str

    def admin(self):  # noqa: ANN201 - a psycopg connection
        import psycopg  # lazy: only tests that use the server need psycopg here

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def fresh_schema(self, name: str | None = None) -> str:
        """Create an empty schema; return a URL whose tables go there (``search_path``)."""
        name = name or "t_" + uuid.uuid4().hex[:16]
        with self.admin() as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return with_search_path(self.url, name)

    def drop_schema(self, url: str) -> None:
        """Drop the schema of a URL :meth:`fresh_schema` made (waits at most 5 s for locks)."""
        name = url.rpartition("search_path%3D")[2]
        with contextlib.suppress(Exception), self.admin() as conn:
            conn.execute("SET lock_timeout = 5000")
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``options=-c search_path=<schema>`` added."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote('-c search_path=', safe='')}{schema}"


@contextlib.contextmanager
def start_postgres() -> Iterator[PostgresServer]:
    """PostgreSQL 16 (``pgserver``) in a fresh temporary folder, stopped and removed after."""
    folder = tempfile.mkdtemp(prefix="cvpg-")
    with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR (as root): harmless
        warnings.simplefilter("ignore")
        import pgserver  # lazy: a test dependency (the dev extra), only when a server starts

        server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield PostgresServer(server.get_uri())
    finally:
        with contextlib.suppress(Exception):
            server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["PostgresServer", "start_postgres", "with_search_path"]
