"""Who may read what (issue 12, point 2), by mode bits.

The metadata database holds saved blocks' credentials, so it and its ``-wal`` / ``-shm``
files are owner-only from their first byte, whatever the umask; ``CONVEYOR_HOME`` is
created ``0700``. Result files follow the process umask, like any file a program writes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conveyor.filesystems import LocalFileSystem
from conveyor.metadata import SQLiteStore
from conveyor.metadata import schema as schema_module
from conveyor.results import persist_value
from conveyor.serializers import PickleSerializer


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[object]:
    """Set the process umask for one test (restored afterwards)."""
    previous = os.umask(0o022)
    os.umask(previous)

    def set_to(value: int) -> None:
        os.umask(value)

    yield set_to
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o000])
def test_database_and_its_side_files_are_private_from_the_first_byte(tmp_path, monkeypatch, umask, mask):
    umask(mask)  # type: ignore[operator]
    seen: list[int | None] = []
    real_connect = schema_module.connect

    def connect(path):  # what the file looked like when SQLite was first handed it
        seen.append(mode(Path(path)) if Path(path).exists() else None)
        return real_connect(path)

    monkeypatch.setattr(schema_module, "connect", connect)
    home = tmp_path / "parent" / "home"
    db = home / "conveyor.db"
    store = SQLiteStore(db)
    store.save_block("local-file-system", "b", {"basepath": "/secret-place"})
    assert seen and seen[0] == 0o600, f"the database was {seen[0]!r} when SQLite opened it"
    wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
    assert wal.exists() and shm.exists()  # the connection is open, so both are there
    for path in (db, wal, shm):
        assert mode(path) == 0o600, (path.name, oct(mode(path)))
    assert mode(home) == 0o700
    store.close()


def test_a_home_that_exists_is_left_as_it_is(tmp_path, umask):
    umask(0o022)  # type: ignore[operator]
    home = tmp_path / "shared-home"
    home.mkdir(mode=0o755)
    store = SQLiteStore(home / "conveyor.db")
    store.list_blocks()
    assert mode(home) == 0o755  # conveyor does not change a folder it did not make
    assert mode(home / "conveyor.db") == 0o600


def test_an_old_world_readable_database_is_made_private(tmp_path, umask):
    umask(0o022)  # type: ignore[operator]
    db = tmp_path / "home" / "conveyor.db"
    SQLiteStore(db).list_blocks()
    db.chmod(0o644)
    wal = Path(f"{db}-wal")
    if wal.exists():
        wal.chmod(0o644)
    store = SQLiteStore(db)
    store.save_block("local-file-system", "b", {"basepath": "/x"})
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert mode(path) == 0o600, path.name


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640)])
def test_result_files_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)  # type: ignore[operator]
    storage = LocalFileSystem(basepath=str(tmp_path / "results"))
    ref = persist_value({"v": 1}, storage=storage, serializer=PickleSerializer(), key="k")
    assert mode(Path(storage.basepath) / ref.key) == expected
