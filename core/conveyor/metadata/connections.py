"""This thread's connection to the metadata database, short write transactions and reads.

:class:`Connections` is the part of :class:`~conveyor.metadata.SQLiteStore` that talks
to SQLite: a connection per thread (opened by :mod:`.opening`: private files, read-only
fallback, schema check), ``BEGIN IMMEDIATE`` transactions whose failures are one clear
line naming the file, and reads (which, inside the store's ``reading_only``, never
create a database: a missing file reads as empty).

May import: conveyor.exceptions, the sibling ``schema`` and ``opening``, the standard library.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conveyor.metadata import schema
from conveyor.metadata.opening import (
    check_schema,
    database_error,
    open_connection,
    prepare_files,
    probe,
)


class _NoDatabase(Exception):
    """Raised inside the store when a read finds no database file (it reads as empty)."""


class Connections:
    """A connection per thread to the database at ``self.path`` (set by the subclass)."""

    path: Path
    _local: threading.local
    _init_lock: threading.Lock
    _migrated: bool

    # -- connections and transactions --------------------------------------------------

    def _connect(self, create: bool = True) -> sqlite3.Connection:
        """This thread's connection; without ``create``, :class:`_NoDatabase` if there is no file."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if create:
            prepare_files(self.path)
        elif not self.path.exists():
            raise _NoDatabase
        if not self._migrated:
            probe(self.path)
        conn, read_only = open_connection(self.path)
        try:
            with self._init_lock:
                if not self._migrated:
                    check_schema(conn, self.path, read_only)
                    self._migrated = True
        except BaseException:
            conn.close()
            raise
        self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; taken at once (``BEGIN IMMEDIATE``).

        A lock held elsewhere is waited on for the busy timeout, then is a
        :class:`~conveyor.exceptions.DatabaseLockedError` naming the file; every other
        SQLite failure is a :class:`~conveyor.exceptions.MetadataError` naming it too.
        """
        conn = self._connect()
        began = time.monotonic()
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                waited = time.monotonic() - began
                text = str(exc)
                # "locked" can come at once (another connection switching to WAL): retry
                # those until the busy timeout has passed, then say who to wait for.
                if ("locked" in text or "busy" in text) and waited < schema.BUSY_TIMEOUT_MS / 1000:
                    time.sleep(0.01)
                    continue
                raise database_error(exc, self.path, "write", waited) from exc
            except sqlite3.Error as exc:
                raise database_error(exc, self.path, "write") from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                conn.execute("ROLLBACK")
            raise database_error(exc, self.path, "write") from exc
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise database_error(exc, self.path, "commit") from exc

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Raw SQL on this thread's connection (not part of the interface); creates the file."""
        conn = self._connect()
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise database_error(exc, self.path, "read") from exc

    #: Whether a read creates the database when there is none (see the store's ``reading_only``).
    _create_on_read: bool

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """A read (inside :meth:`reading_only`: no rows when there is no database file)."""
        try:
            conn = self._connect(create=self._create_on_read)
        except _NoDatabase:
            return []
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise database_error(exc, self.path, "read") from exc

    @property
    def exists(self) -> bool:
        """Whether the database file exists (a read-only command says so when it does not)."""
        return self.path.exists()

    @property
    def schema_version(self) -> int:
        return int(self.query("SELECT version FROM schema_version")[0][0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
