"""The metadata database under faults (issue 12, point 6): one clear line, never a traceback.

- a file that is not a database, a SQLite file of another application, a read-only home;
- a write lock held elsewhere: reads go on, a write waits the busy timeout and then says
  which database and what to do;
- a malformed row is one finding of ``results verify`` / ``blocks ls``, not their end;
- a read-only command never creates a database where there is none.

Read-only homes are tested for real: as root (which ignores permission bits) the command
runs under ``setpriv`` without capabilities, so the bits apply.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conveyor.cli import main
from conveyor.exceptions import DatabaseLockedError, MetadataError
from conveyor.filesystems import LocalFileSystem
from conveyor.metadata import SQLiteStore, get_store
from conveyor.metadata import schema as schema_module
from conveyor.results import persist_value
from conveyor.serializers import PickleSerializer

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


def cli(home: Path, *argv: str, unprivileged: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real ``conveyor`` command with ``CONVEYOR_HOME=home``."""
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]
    return subprocess.run(
        [*prefix, CONVEYOR, *argv], env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if not line.startswith("conveyor: note:")]
    assert len(lines) == 1 and lines[0].startswith("conveyor: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


LITERAL_TRUE = '{"type":"result","value":"true"}'


def completed_run(store: SQLiteStore, run_id: str, data: str | None = LITERAL_TRUE) -> None:
    state = ("COMPLETED", "Completed", None, 1.0, data)
    store.writer.create_flow_run(run_id, "nightly", None, None, state, 1.0, 1)
    store.flush()


# -- a file that is not a database ------------------------------------------------------------


def test_a_file_that_is_not_a_database(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    db = home / "conveyor.db"
    db.write_bytes(b"these are the minutes of the meeting, not a database\n" * 50)
    with pytest.raises(MetadataError) as info:
        SQLiteStore(db).list_blocks()
    assert str(db) in str(info.value) and "not a SQLite database" in str(info.value)
    for argv in (["runs", "ls"], ["blocks", "ls"], ["results", "verify"]):
        assert_one_line_error(cli(home, *argv), str(db), "not a SQLite database")
    assert db.read_bytes().startswith(b"these are the minutes")  # untouched


def test_a_sqlite_file_of_another_application_is_refused_unchanged(tmp_path):
    db = tmp_path / "home" / "conveyor.db"
    db.parent.mkdir()
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    other.execute("INSERT INTO customers (name) VALUES ('ada')")
    other.commit()
    other.close()
    with pytest.raises(MetadataError, match="another application") as info:
        SQLiteStore(db).save_block("local-file-system", "x", {"basepath": "/x"})
    assert str(db) in str(info.value) and "customers" in str(info.value)
    assert_one_line_error(cli(db.parent, "blocks", "ls"), "another application")
    check = sqlite3.connect(db)
    tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    mode = check.execute("PRAGMA journal_mode").fetchone()[0]
    check.close()
    assert tables == {"customers"}  # not extended with conveyor's tables
    assert mode == "delete"  # not even switched to WAL


# -- a read-only home ------------------------------------------------------------------------


def _can_drop_privileges() -> bool:
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


@pytest.fixture
def read_only_home(tmp_path):
    if not _can_drop_privileges():
        pytest.skip("running as root without setpriv: permission bits cannot be made to apply")
    home = tmp_path / "ro-home"
    code = (  # in a process of its own, which closes every connection when it exits
        "import sys\n"
        "from conveyor.metadata import SQLiteStore\n"
        "store = SQLiteStore(sys.argv[1])\n"
        f"store.writer.create_flow_run('f-readonly', 'nightly', None, None, "
        f"('COMPLETED', 'Completed', None, 1.0, {LITERAL_TRUE!r}), 1.0, 1)\n"
        "store.flush()\n"
        "store.save_block('local-file-system', 'kept', {'basepath': '/kept'})\n"
    )
    subprocess.run([sys.executable, "-c", code, str(home / "conveyor.db")], check=True, timeout=60)
    assert sorted(p.name for p in home.iterdir()) == ["conveyor.db"]  # WAL checkpointed away
    for path in home.iterdir():
        path.chmod(0o444)
    home.chmod(0o555)
    yield home
    home.chmod(0o755)
    for path in home.iterdir():
        path.chmod(0o644)


def test_a_read_only_home_can_be_read_not_written(read_only_home):
    home = read_only_home
    db = home / "conveyor.db"
    listed = cli(home, "runs", "ls", unprivileged=True)
    assert listed.returncode == 0, listed.stderr
    assert "f-readonly" in listed.stdout and "Traceback" not in listed.stderr
    blocks = cli(home, "blocks", "ls", unprivileged=True)
    assert blocks.returncode == 0 and "local-file-system/kept" in blocks.stdout, blocks.stderr
    created = cli(home, "blocks", "create", "local-file-system", "new", "--basepath", "/n",
                  unprivileged=True)
    assert_one_line_error(created, str(db), "read-only")


def test_a_read_only_home_in_python_names_the_path(read_only_home):
    code = (
        "from conveyor.metadata import SQLiteStore\n"
        "from conveyor.exceptions import MetadataError\n"
        f"store = SQLiteStore({str(read_only_home / 'conveyor.db')!r})\n"
        "assert [n for _t, n, _c in store.list_blocks()] == ['kept']\n"
        "try:\n"
        "    store.save_block('local-file-system', 'x', {'basepath': '/x'})\n"
        "except MetadataError as exc:\n"
        "    print(exc)\n"
    )
    prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"] if os.geteuid() == 0 else []
    proc = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert str(read_only_home / "conveyor.db") in proc.stdout and "read-only" in proc.stdout


# -- a write lock held elsewhere ---------------------------------------------------------------


@pytest.fixture
def locked_db(tmp_path, monkeypatch):
    """A current database whose write lock another connection holds (as another process would)."""
    monkeypatch.setattr(schema_module, "BUSY_TIMEOUT_MS", 1500)
    db = tmp_path / "home" / "conveyor.db"
    setup = SQLiteStore(db)
    completed_run(setup, "f-before-lock")
    setup.save_block("local-file-system", "kept", {"basepath": "/kept"})
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO block_documents VALUES ('held', 'x', '{}', 0)")
    yield db
    holder.execute("ROLLBACK")
    holder.close()


def _in_thread(fn):
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the call did not return"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def test_a_held_lock_does_not_block_reads(locked_db):
    fresh = SQLiteStore(locked_db)  # a new process's first connect: the schema check reads only
    rows = _in_thread(lambda: fresh.read_flow_runs())
    assert [r["id"] for r in rows] == ["f-before-lock"]
    assert [n for _t, n, _c in fresh.list_blocks()] == ["kept"]
    proc = cli(locked_db.parent, "runs", "ls")
    assert proc.returncode == 0 and "f-before-lock" in proc.stdout, proc.stderr


def test_a_lock_held_for_long_is_a_clear_error(locked_db):
    fresh = SQLiteStore(locked_db)
    with pytest.raises(DatabaseLockedError) as info:
        _in_thread(lambda: fresh.save_block("local-file-system", "new", {"basepath": "/n"}))
    message = str(info.value)
    assert str(locked_db) in message and "locked by another process" in message
    assert "wait for that process" in message and "\n" not in message
    assert "database is locked" != message


# -- malformed rows are findings -------------------------------------------------------------


def test_one_malformed_row_is_a_finding_of_results_verify(conveyor_home, tmp_path, capsys):
    store = get_store()
    ref = persist_value({"ok": 1}, storage=LocalFileSystem(basepath=str(tmp_path / "r")),
                        serializer=PickleSerializer())
    completed_run(store, "f-good", ref.json())
    completed_run(store, "f-bad", '{"type": "reference", "key": ')  # cut short
    with store.transaction() as conn:
        conn.execute("UPDATE flow_runs SET state_data = ? WHERE id = 'f-bad'",
                     ('{"type": "reference", "key": ',))
    code = main(["results", "verify", "-v"])
    out = capsys.readouterr().out
    assert code == 1
    assert "f-bad" in out and "DAMAGED" in out
    assert "ok       flow run f-good" in out
    assert "checked 1 stored result(s)" in out
    code = main(["results", "verify", "f-bad"])
    out = capsys.readouterr().out
    assert code == 1 and "f-bad" in out and "DAMAGED" in out


def test_one_malformed_block_row_is_a_finding_of_blocks_ls(conveyor_home, capsys):
    store = get_store()
    store.save_block("local-file-system", "good", {"basepath": "/good"})
    store.save_block("local-file-system", "bad", {"basepath": "/bad"})
    with store.transaction() as conn:
        doc = conn.execute("SELECT document_id FROM saved_blocks WHERE name = 'bad'").fetchone()[0]
        conn.execute("UPDATE block_documents SET config = '{not json' WHERE id = ?", (doc,))
    code = main(["blocks", "ls"])
    out = capsys.readouterr().out
    assert "local-file-system/good" in out and "basepath='/good'" in out
    assert "local-file-system/bad" in out and "DAMAGED" in out
    assert code == 1
    code = main(["blocks", "ls", "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert [b["slug"] for b in listed] == ["local-file-system/bad", "local-file-system/good"]
    assert listed[0]["problem"] and listed[1]["config"] == {"basepath": "/good"}


# -- a read-only command finds no database -----------------------------------------------------


def test_a_read_only_command_never_creates_a_database(tmp_path):
    typo = tmp_path / "conveyr-home"
    for argv in (["runs", "ls"], ["blocks", "ls"], ["results", "verify"]):
        proc = cli(typo, *argv)
        assert proc.returncode == 0, proc.stderr
        assert "no metadata database at" in proc.stderr and str(typo) in proc.stderr
    assert not typo.exists()
    proc = cli(typo, "runs", "show", "nope")
    assert proc.returncode == 1 and "no metadata database at" in proc.stderr
    assert not typo.exists()


def test_database_files_stay_private_after_a_command(conveyor_home):
    store = get_store()
    completed_run(store, "f1")
    for path in [conveyor_home / "conveyor.db", *conveyor_home.glob("conveyor.db-*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
