"""The metadata store: schema, WAL, migrations, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest
from conveyor.exceptions import ConfigurationError
from conveyor.metadata import MIGRATIONS, SQLiteStore, get_store
from conveyor.metadata import schema as store_module


def test_database_lives_under_conveyor_home(conveyor_home):
    s = get_store()
    assert s.path == (conveyor_home / "conveyor.db").resolve()
    s.list_blocks()
    assert s.path.exists()
    assert get_store() is s


def test_wal_mode_and_busy_timeout(tmp_path):
    s = SQLiteStore(tmp_path / "db.sqlite")
    assert s.query("PRAGMA journal_mode")[0][0] == "wal"
    assert s.query("PRAGMA busy_timeout")[0][0] == store_module.BUSY_TIMEOUT_MS


def test_schema_version_recorded(tmp_path):
    s = SQLiteStore(tmp_path / "db.sqlite")
    assert s.schema_version == len(MIGRATIONS)
    tables = {r[0] for r in s.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_version", "block_documents", "saved_blocks", "flow_runs", "task_runs", "states", "cache"} <= tables


def test_migrations_run_once_and_in_order(tmp_path, monkeypatch):
    path = tmp_path / "db.sqlite"
    SQLiteStore(path).list_blocks()
    extra = "CREATE TABLE extra_table (x INTEGER)"
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, extra])
    s = SQLiteStore(path)
    assert s.schema_version == len(MIGRATIONS) + 1
    assert s.query("SELECT count(*) FROM extra_table")[0][0] == 0
    # Opening again does not re-run it (it would fail: the table exists).
    assert SQLiteStore(path).schema_version == len(MIGRATIONS) + 1


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "db.sqlite"
    SQLiteStore(path).list_blocks()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 999")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigurationError, match="schema version 999, newer than this conveyor"):
        SQLiteStore(path).list_blocks()


def test_unwritable_home_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigurationError, match="set CONVEYOR_HOME to a writable folder"):
        SQLiteStore(blocker / "sub" / "db.sqlite").list_blocks()


def test_failed_transaction_leaves_nothing(tmp_path):
    s = SQLiteStore(tmp_path / "db.sqlite")
    with pytest.raises(RuntimeError), s.transaction() as conn:
        conn.execute(
            "INSERT INTO block_documents (id, block_type, config, created) VALUES ('x', 't', '{}', 0)"
        )
        raise RuntimeError("abort")
    assert s.query("SELECT count(*) FROM block_documents")[0][0] == 0


WRITER = textwrap.dedent(
    """
    import sys
    from conveyor.metadata import SQLiteStore
    s = SQLiteStore(sys.argv[1])
    worker = sys.argv[2]
    for i in range(int(sys.argv[3])):
        s.save_block("local-file-system", f"w{worker}-{i}", {"basepath": f"/{worker}/{i}"})
    """
)


def test_block_documents_are_deduplicated_in_one_row(tmp_path):
    """The backend-independent part is in conveyor.testing.metadata; here: one row each."""
    s = SQLiteStore(tmp_path / "db.sqlite")
    a = s.put_block_document("local-file-system", {"basepath": "/a"})
    b = s.put_block_document("local-file-system", {"basepath": "/a"})
    s.put_block_document("local-file-system", {"basepath": "/b"})
    assert a == b
    assert s.query("SELECT count(*) FROM block_documents")[0][0] == 2


def test_several_processes_write_at_once_with_integrity(tmp_path):
    """The no-loss part (also with a fresh file) is in conveyor.testing.metadata."""
    path = tmp_path / "db.sqlite"
    SQLiteStore(path).list_blocks()  # schema created once up front, as in real use
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), "60"]) for w in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    s = SQLiteStore(path)
    assert len(s.list_blocks()) == 240
    assert s.query("PRAGMA integrity_check")[0][0] == "ok"
    assert SQLiteStore(path).schema_version == len(MIGRATIONS)
