"""Opening the metadata database file: private from its first byte, read-only when it must
be, never someone else's file, and every failure one clear line naming the path.

- :func:`prepare_files` creates ``CONVEYOR_HOME`` (``0700``, when conveyor creates it)
  and the database file (``0600``) before SQLite touches them: SQLite gives the ``-wal``
  and ``-shm`` files it creates the database file's permissions, so all three are
  owner-only from their first byte. Nothing depends on the process umask, which is
  process-wide and would race with other threads.
- :func:`probe` reads an existing file, read-only, before anything is written to it: a
  file that is not a database, or a SQLite file of another application, is refused
  unchanged (not even switched to WAL mode, never extended with conveyor's tables).
- :func:`open_connection` opens a connection (:func:`conveyor.metadata.schema.connect`);
  a file this process may only read is opened read-only (``mode=ro``, then
  ``immutable=1`` when even the ``-shm`` file cannot be made), so reading works.
- :func:`check_schema` reads the schema version without a write lock; only a database
  that is behind takes the lock to migrate (:func:`conveyor.metadata.schema.migrate`).
- :func:`database_error` turns a ``sqlite3`` error into a :class:`MetadataError` saying
  what is wrong with which file and what to do.

May import: conveyor.exceptions, the sibling ``schema``, the standard library.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from conveyor.exceptions import ConfigurationError, DatabaseLockedError, MetadataError
from conveyor.metadata import schema

#: Mode of the database file (and so of its ``-wal`` and ``-shm`` files).
PRIVATE_FILE = 0o600
#: Mode of ``CONVEYOR_HOME`` when conveyor creates it.
PRIVATE_FOLDER = 0o700
#: SQLite's companion files of a database.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
#: Tables that mark a file as conveyor's (with ``schema_version``).
_OURS = "block_documents"


def prepare_files(path: Path) -> None:
    """Create the home folder (``0700``) and an empty database file (``0600``) if missing,
    and take group and other permissions away from an existing database and its side files."""
    home = path.parent
    if not home.is_dir():
        try:
            home.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.mkdir(home, PRIVATE_FOLDER)
            except FileExistsError:
                if not home.is_dir():  # else made meanwhile by another process or thread
                    raise
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the metadata folder {home} ({exc.strerror}); "
                f"set CONVEYOR_HOME to a writable folder"
            ) from exc
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        os.close(os.open(path, flags, PRIVATE_FILE))
    except FileExistsError:
        pass
    except OSError:
        pass  # a folder we may not write: SQLite opens it read-only, or says why it cannot
    restrict(path)


def restrict(path: Path) -> None:
    """Remove group and other permissions from ``path`` and its side files (when ours)."""
    for candidate in (str(path), *(f"{path}{s}" for s in SIDE_SUFFIXES)):
        try:
            mode = os.stat(candidate).st_mode
            if mode & 0o077:
                os.chmod(candidate, mode & 0o700)
        except OSError:
            continue  # absent, or not ours to change


def _read_only_uri(path: Path, immutable: bool) -> str:
    return path.absolute().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


def _only_readable(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def _read_only_connection(path: Path) -> sqlite3.Connection:
    """A read-only connection: ``mode=ro`` (WAL needs its ``-shm`` file), then
    ``immutable=1`` (no locking: right for a home that nobody may write)."""
    error: sqlite3.Error | None = None
    for immutable in (False, True):
        conn = None
        try:
            conn = sqlite3.connect(
                _read_only_uri(path, immutable), uri=True, isolation_level=None,
                check_same_thread=False, timeout=schema.BUSY_TIMEOUT_MS / 1000,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            if "not a database" in str(exc) or "encrypted" in str(exc):
                raise database_error(exc, path, "open") from exc
            error = exc
    assert error is not None
    raise database_error(error, path, "open") from error


def _tables_and_version(conn: sqlite3.Connection, path: Path) -> tuple[set[str], int]:
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = 0
        if "schema_version" in tables:
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = int(row[0]) if row else 0
    except sqlite3.Error as exc:
        raise database_error(exc, path, "read") from exc
    if tables - {"sqlite_sequence"} and (
        "schema_version" not in tables or (version >= 1 and _OURS not in tables)
    ):
        shown = ", ".join(sorted(tables)[:8]) + (", ..." if len(tables) > 8 else "")
        raise MetadataError(
            f"{path} is a SQLite database of another application (tables: {shown}), not "
            f"conveyor's metadata database; conveyor does not change it or add its tables "
            f"to it: set CONVEYOR_HOME to a folder of conveyor's own"
        )
    return tables, version


def probe(path: Path) -> None:
    """Refuse a file that is not a database, or is another application's, before anything
    (not even the switch to WAL mode) is written to it. Reads only."""
    conn = _read_only_connection(path)
    try:
        _tables_and_version(conn, path)
    finally:
        conn.close()


def open_connection(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection to ``path`` (which must exist) and whether it is read-only.

    When the file (or its folder) may only be read, it is opened read-only, so reading works.
    """
    try:
        return schema.connect(path), False
    except sqlite3.Error as exc:
        if not _only_readable(exc) or not os.access(path, os.R_OK):
            raise database_error(exc, path, "open") from exc
    return _read_only_connection(path), True


def check_schema(conn: sqlite3.Connection, path: Path, read_only: bool) -> None:
    """Make sure ``conn``'s database is conveyor's and current, migrating it if behind.

    The version is read without a write lock, so a current database is opened by
    readers even while another process holds the lock, or when it is read-only.
    """
    _tables, version = _tables_and_version(conn, path)
    target = len(schema.MIGRATIONS)
    if version == target:
        return
    if read_only and version < target:
        raise MetadataError(
            f"the metadata database {path} has schema version {version}, older than this "
            f"conveyor's {target}, and this process may only read it, so it cannot be "
            f"upgraded; open it once with write access (any conveyor command that records)"
        )
    try:
        schema.migrate(conn, path)
    except sqlite3.Error as exc:
        raise database_error(exc, path, "upgrade") from exc


def database_error(
    exc: sqlite3.Error, path: Path, action: str, waited: float | None = None
) -> MetadataError:
    """One line saying what went wrong with the database at ``path`` and what to do."""
    text = str(exc)
    low = text.lower()
    if "not a database" in low or "encrypted" in low:
        return MetadataError(
            f"{path} is not a SQLite database ({text}), so it cannot be conveyor's metadata "
            f"database; move it away, or set CONVEYOR_HOME to another folder"
        )
    if "locked" in low or "busy" in low:
        seconds = schema.BUSY_TIMEOUT_MS / 1000 if waited is None else waited
        return DatabaseLockedError(
            f"the metadata database {path} stayed locked by another process for "
            f"{seconds:.0f} s, so this {action} could not go on; wait for that process to "
            f"finish (or find it with `fuser {path}` and stop it), then try again"
        )
    if "readonly" in low or "read-only" in low:
        return MetadataError(
            f"the metadata database {path} is read-only for this process ({text}): it can be "
            f"read, but recording runs or saving blocks needs write access to it and to its "
            f"folder {path.parent}; fix their permissions, or set CONVEYOR_HOME to a writable folder"
        )
    if "unable to open" in low:
        return MetadataError(
            f"cannot open the metadata database {path} ({text}); check that {path.parent} is "
            f"a folder this process may read and write, or set CONVEYOR_HOME to one"
        )
    if "full" in low:
        return MetadataError(
            f"the metadata database {path} cannot grow: the disk is full ({text}); free some "
            f"disk space, then try again"
        )
    if "malformed" in low or "corrupt" in low:
        return MetadataError(
            f"the metadata database {path} is damaged ({text}); restore it from a backup, or "
            f"move it away to start with an empty one"
        )
    return MetadataError(
        f"the metadata database {path} failed to {action}: {type(exc).__name__}: {text}"
    )


__all__ = [
    "PRIVATE_FILE",
    "PRIVATE_FOLDER",
    "check_schema",
    "database_error",
    "open_connection",
    "prepare_files",
    "probe",
    "restrict",
]
