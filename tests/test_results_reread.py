"""A small result read again in one process: its verified bytes are kept while the stored
file is provably the same one (conveyor.results.reread); a rewritten, damaged or removed
file is read and verified again, and every read builds a fresh value."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conveyor import task
from conveyor.exceptions import CorruptResultError, ResultNotFoundError
from conveyor.filesystems import LocalFileSystem
from conveyor.results import persist_value, reread, result_from_dict
from conveyor.serializers import PickleSerializer


class CountingFileSystem(LocalFileSystem):
    """A real local block that counts the files it opens for reading."""

    opened = 0

    def open_read(self, path: str) -> Any:
        type(self).opened += 1
        return super().open_read(path)


@pytest.fixture
def storage(tmp_path: Path, conveyor_home: Path) -> CountingFileSystem:
    reread.forget_all()
    CountingFileSystem.opened = 0
    return CountingFileSystem(basepath=str(tmp_path / "store"))


def read(ref: Any) -> Any:
    return result_from_dict(json.loads(ref.json())).get()  # a fresh reference, as from a record


def reading(ref: Any, storage: LocalFileSystem) -> Any:
    """Read through ``storage`` itself (the reference's own block is rebuilt per read)."""
    from conveyor.results.read import read_result

    return read_result(storage, ref.key, checksum=ref.checksum, serializer=ref.serializer,
                       size=ref.size, format=ref.format)


def test_a_small_result_read_again_is_not_opened_again_and_is_a_fresh_value(storage):
    ref = persist_value({"rows": [1, 2]}, storage=storage, serializer=PickleSerializer())
    first = reading(ref, storage)
    second = reading(ref, storage)  # the second read takes the fingerprints and keeps it
    assert CountingFileSystem.opened == 2
    third = reading(ref, storage)
    assert CountingFileSystem.opened == 2  # kept: a stat, no open, no hash
    assert first == second == third == {"rows": [1, 2]}
    third["rows"].append(3)  # every read builds its own value
    assert reading(ref, storage) == {"rows": [1, 2]}


def test_a_rewritten_or_damaged_file_is_read_and_verified_again(storage):
    ref = persist_value([1, 2, 3], storage=storage, serializer=PickleSerializer())
    for _ in range(3):
        assert reading(ref, storage) == [1, 2, 3]
    path = Path(storage.basepath) / ref.key
    payload = bytearray(path.read_bytes())
    payload[-2] ^= 1
    path.unlink()
    path.write_bytes(bytes(payload))  # a new file: another inode
    opened = CountingFileSystem.opened
    with pytest.raises(CorruptResultError, match="hash to"):
        reading(ref, storage)
    assert CountingFileSystem.opened == opened + 1
    path.unlink()
    with pytest.raises(ResultNotFoundError):
        reading(ref, storage)


def test_large_results_and_other_formats_are_always_read(storage):
    big = os.urandom(reread.REREAD_MAX_BYTES + 1)
    ref = persist_value(big, storage=storage, serializer=PickleSerializer())
    for _ in range(3):
        assert reading(ref, storage) == big
    assert CountingFileSystem.opened == 3


class NoFingerprint(CountingFileSystem):
    """A real local block that cannot tell a fingerprint (as the default block does not)."""

    asked = 0

    def fingerprint(self, path: str) -> object | None:
        type(self).asked += 1
        return None


def test_a_block_without_fingerprints_is_always_read_and_asked_once(tmp_path, conveyor_home):
    reread.forget_all()
    block = NoFingerprint(basepath=str(tmp_path / "plain"))
    NoFingerprint.opened = NoFingerprint.asked = 0
    ref = persist_value({"n": 1}, storage=block, serializer=PickleSerializer())
    for _ in range(5):
        assert reading(ref, block) == {"n": 1}
    assert NoFingerprint.opened == 5  # nothing kept without a fingerprint
    assert NoFingerprint.asked == 1  # asked at the second read, then never again


def test_the_memory_kept_is_bounded(storage):
    refs = [persist_value(i, storage=storage, serializer=PickleSerializer(), key=f"k{i}")
            for i in range(reread.REREAD_MAX_ENTRIES + 10)]
    for ref in refs:
        assert reading(ref, storage) == reading(ref, storage) == int(ref.key[1:])
    assert len(reread._kept) <= reread.REREAD_MAX_ENTRIES


def test_a_cache_hit_outside_a_flow_runs_again_once_its_file_is_gone(tmp_path, conveyor_home):
    reread.forget_all()
    calls = []

    @task(cache_key_fn=lambda ctx, params: f"gone-{params['x']}", persist_result=True)
    def square(x: int) -> list[int]:
        calls.append(x)
        return [x * x]

    for _ in range(4):
        assert square(3) == [9]
    assert calls == [3]
    for path in Path(os.environ["CONVEYOR_LOCAL_STORAGE_PATH"]).rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            path.unlink()
    assert square(3) == [9]
    assert calls == [3, 3]  # the kept bytes were not used for a file that is gone
