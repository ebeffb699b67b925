"""``PostgresStore``: conveyor's metadata database in PostgreSQL, on psycopg 3.

The same store as SQLite's, method for method: the methods are conveyor's shared ones
(:class:`conveyor.metadata.shared.SharedStore`, the browsing, write-intent and clean-up
mixins, in SQL both databases accept), runs and states go through the same batched writer
(:class:`conveyor.metadata.RunWriter`); this package adds what is PostgreSQL's own: the
connections (:mod:`.connections`), the schema and its migrations (:mod:`.schema`), the
commit of a batch with retries (:mod:`.writes`). Many processes on many machines may
write at once.

The URL is libpq's (``postgresql://user:password@host:5432/dbname?sslmode=require``);
the store shows it only masked (:attr:`PostgresStore.location`), never its password.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import unquote, urlsplit

from conveyor.metadata import masked
from conveyor.metadata.browsing import Browsing
from conveyor.metadata.intents import WriteIntents
from conveyor.metadata.pruning import Pruning
from conveyor.metadata.shared import SharedStore

from conveyor_metadata_postgres.connections import Connections
from conveyor_metadata_postgres.writes import BatchWrites


def _password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


class PostgresStore(SharedStore, Browsing, WriteIntents, Pruning, BatchWrites, Connections):
    """One PostgreSQL metadata database. Thread-safe: a connection per thread.

    Implements :class:`conveyor.metadata.MetadataStore`.
    """

    #: URL schemes it serves (``CONVEYOR_DATABASE_URL=postgresql://...``).
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    ORDER: ClassVar[str] = "seq"
    NO_PARENT: ClassVar[str] = "parent_flow_run_id IS NULL"

    def __init__(self, url: str) -> None:
        self.url = url
        self._password = _password(url)
        self._location = masked(url)
        self._start_process_state()

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """The store of ``postgresql://...`` (libpq's URL form)."""
        return cls(url)

    @property
    def location(self) -> str:
        """The URL with its password masked (what messages show)."""
        return self._location

    def after_fork(self) -> None:
        """In a forked child: the parent's connections set aside, then forgotten."""
        self._set_aside_connections()
        super().after_fork()

    def __repr__(self) -> str:
        return f"PostgresStore({self._location!r})"


__all__ = ["PostgresStore"]
