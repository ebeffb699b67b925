"""This thread's connection to PostgreSQL, transactions and reads: :class:`Connections`.

A connection per thread (psycopg 3, autocommit: each read is its own short transaction),
opened with ``connect_timeout`` and then bounded by ``statement_timeout``,
``lock_timeout`` and ``idle_in_transaction_session_timeout`` (:mod:`.errors`): no wait on
the server is unbounded. The first connection of a process brings the schema up to date
(:func:`.schema.ensure`). SQL comes with ``?`` placeholders (the shared store's,
:mod:`conveyor.metadata.shared`) and is given to psycopg with ``%s``. A broken connection
is dropped, so the next call opens a new one. Inside ``reading_only()`` reads never create
the schema: a database without it reads as empty.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from conveyor_metadata_postgres import schema
from conveyor_metadata_postgres.errors import (
    CONNECT_TIMEOUT,
    IDLE_IN_TRANSACTION_MS,
    LOCK_TIMEOUT_MS,
    STATEMENT_TIMEOUT_MS,
    pg_error,
)
from conveyor_metadata_postgres.rows import Record, records

_SQL: dict[str, str] = {}
#: Connections of a parent process, kept (never used, never closed) in a forked child:
#: closing one there would end the parent's session.
_INHERITED: list[object] = []


def pg_sql(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` placeholders for ``?`` (our SQL has no other ? or %)."""
    found = _SQL.get(sql)
    if found is None:
        found = _SQL[sql] = sql.replace("?", "%s")
    return found


class _NoSchema(Exception):
    """A read inside ``reading_only()`` found no schema: it reads as empty."""


class Transaction:
    """What ``transaction()`` yields: ``execute`` and ``executemany`` with ``?`` SQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(pg_sql(sql), params)  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(pg_sql(sql), rows)  # type: ignore[arg-type]


class Connections:
    """A connection per thread to the database of ``self.url`` (set by the store)."""

    url: str
    _password: str | None
    _local: threading.local
    _init_lock: threading.Lock
    _migrated: bool = False
    _create_on_read: bool

    def _open(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, row_factory=records,
            )
        except psycopg.Error as exc:
            raise pg_error(exc, self.url, "connect", self._password) from None
        try:
            conn.execute(
                f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}; SET lock_timeout = "
                f"{LOCK_TIMEOUT_MS}; SET idle_in_transaction_session_timeout = "
                f"{IDLE_IN_TRANSACTION_MS}"
            )
        except psycopg.Error as exc:
            conn.close()
            raise pg_error(exc, self.url, "connect", self._password) from None
        return conn

    def _connect(self, create: bool = True) -> psycopg.Connection[Any]:
        """This thread's connection, the schema current; without ``create``,
        :class:`_NoSchema` when the database has no schema yet (nothing is created)."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        conn = self._open()
        try:
            if not self._migrated:
                with self._init_lock:
                    if not self._migrated:
                        if not create and schema.current_version(conn) is None:
                            raise _NoSchema
                        schema.ensure(conn, self.location)
                        self._migrated = True
        except psycopg.Error as exc:
            conn.close()
            raise pg_error(exc, self.url, "open", self._password) from None
        except BaseException:
            conn.close()
            raise
        self._local.conn = conn
        return conn

    @property
    def location(self) -> str:  # pragma: no cover - the store's
        raise NotImplementedError

    def _failed(self, conn: psycopg.Connection[Any], exc: BaseException, action: str) -> Exception:
        """The error to raise for ``exc``; a broken connection is dropped (reopened next time)."""
        if conn.broken or conn.closed:
            self._local.conn = None
            with contextlib.suppress(Exception):
                conn.close()
        return pg_error(exc, self.url, action, self._password)

    @contextlib.contextmanager
    def raw_transaction(self) -> Iterator[Transaction]:
        """One transaction; psycopg's own errors come out unchanged (for retries)."""
        conn = self._connect()
        with conn.transaction():
            yield Transaction(conn)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One short write transaction; a failure is one :class:`MetadataError` line."""
        conn = self._connect()
        try:
            with conn.transaction():
                yield Transaction(conn)
        except psycopg.Error as exc:
            raise self._failed(conn, exc, "write") from None

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        try:
            conn = self._connect(create=self._create_on_read)
        except _NoSchema:
            return []
        try:
            return conn.execute(pg_sql(sql), params).fetchall()  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise self._failed(conn, exc, "read") from None

    @property
    def exists(self) -> bool:
        """Whether the database has conveyor's schema yet (a read-only command says so)."""
        if self._migrated:
            return True
        conn = self._open()
        try:
            return schema.current_version(conn) is not None
        finally:
            conn.close()

    @property
    def schema_version(self) -> int:
        return int(self._rows("SELECT version FROM schema_version")[0][0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with contextlib.suppress(Exception):
                conn.close()

    def _set_aside_connections(self) -> None:
        """In a forked child: the parent's connections are kept, never used and never
        closed (closing one there would end the parent's session)."""
        _INHERITED.append(self._local)


__all__ = ["Connections", "Transaction", "pg_sql"]
