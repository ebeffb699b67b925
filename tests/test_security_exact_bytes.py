"""Check, then never read again: the bytes that were verified are the bytes deserialized.

The race (issue 12, point 1): a reader hashed the stored file, seeked back and let the
serializer read the same file again, so bytes rewritten in place in between were loaded
unchecked. These tests rewrite the file at the worst moment, deterministically: inside the
serializer's ``load``, after the checksum was compared and before a byte is deserialized.
The rewritten bytes must never be deserialized: the reader returns the verified value.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from conveyor.exceptions import CorruptResultError
from conveyor.filesystems import LocalFileSystem
from conveyor.results import persist_value, read_result, result_from_dict
from conveyor.results.payload import check_payload
from conveyor.serializers import JSONSerializer, PickleSerializer

MARK = "CONVEYOR_TEST_REREAD_PWNED"


class _Exploit:
    """A pickle that, when loaded, sets an environment variable (an attacker's code)."""

    def __init__(self, padding: int) -> None:
        self.padding = padding

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        code = f"import os; os.environ[{MARK!r}] = '1'  #" + "x" * self.padding
        return (exec, (code,))


def split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(before, payload, after): a stored result (format 2) is exactly its payload."""
    return b"", raw, b""


def same_length(payload: bytes, make: Any) -> bytes:
    """``make(padding)`` grown until it is exactly as long as ``payload``."""
    for padding in range(len(payload)):
        candidate = make(padding)
        if len(candidate) == len(payload):
            return candidate
    raise AssertionError("cannot make a payload of the same length")


def rewrite_in_place(path: Path, payload: bytes) -> None:
    """Overwrite the payload region of the stored file, same inode, same length."""
    raw = path.read_bytes()
    head, old, tail = split(raw)
    assert len(payload) == len(old)
    with open(path, "r+b") as fh:  # in place: the reader's open handle sees it
        fh.seek(len(head))
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    assert path.read_bytes() == head + payload + tail


@pytest.fixture
def storage(tmp_path: Path) -> LocalFileSystem:
    return LocalFileSystem(basepath=str(tmp_path / "store"))


@pytest.fixture(autouse=True)
def _no_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MARK, raising=False)


def _rewrite_during_load(
    monkeypatch: pytest.MonkeyPatch, cls: type, path: Path, payload: bytes
) -> list[bool]:
    """Make ``cls.load`` rewrite the stored file first, then load as it would have."""
    original = cls.load
    done: list[bool] = []

    def load(self: Any, file: Any) -> Any:
        rewrite_in_place(path, payload)
        done.append(True)
        return original(self, file)

    monkeypatch.setattr(cls, "load", load)
    return done


def test_pickle_rewritten_between_check_and_load_is_never_unpickled(storage, monkeypatch):
    # Larger than a file object's read buffer, so a reader that seeks back re-reads the disk.
    value = {"rows": list(range(50)), "note": "the value that was written " * 1000}
    serializer = PickleSerializer(picklelib="pickle")
    ref = persist_value(value, storage=storage, serializer=serializer, key="k")
    path = Path(storage.basepath) / "k"
    _h, original, _t = split(path.read_bytes())
    exploit = same_length(original, lambda n: pickle.dumps(_Exploit(n), protocol=5))
    done = _rewrite_during_load(monkeypatch, PickleSerializer, path, exploit)

    got = result_from_dict(json.loads(ref.json())).get()  # as another process reads it

    assert done, "the rewrite ran (inside the serializer's load)"
    assert got == value
    assert MARK not in os.environ, "the attacker's pickle was loaded"


def test_json_rewritten_between_check_and_load_is_never_decoded(storage, monkeypatch):
    value = {"owner": "alice", "amount": 10, "note": "w" * 20_000}
    serializer = JSONSerializer()
    ref = persist_value(value, storage=storage, serializer=serializer, key="k")
    path = Path(storage.basepath) / "k"
    _h, original, _t = split(path.read_bytes())
    forged = same_length(
        original, lambda n: json.dumps({"owner": "mallory", "amount": 9, "note": "!" * n}).encode()
    )
    done = _rewrite_during_load(monkeypatch, JSONSerializer, path, forged)

    got = read_result(storage, "k", serializer=ref.serializer, checksum=ref.checksum, size=ref.size)

    assert done
    assert got == value


def test_large_payload_goes_through_a_private_file_and_is_still_exact(storage, monkeypatch):
    """Beyond the in-memory copy's limit the copy is a temporary file: same guarantee."""
    from conveyor.results import payload as payload_module

    monkeypatch.setattr(payload_module, "COPY_IN_MEMORY_MAX", 1000)
    value = b"v" * 50_000
    serializer = PickleSerializer(picklelib="pickle")
    ref = persist_value(value, storage=storage, serializer=serializer, key="big")
    path = Path(storage.basepath) / "big"
    _h, original, _t = split(path.read_bytes())
    exploit = same_length(original, lambda n: pickle.dumps(_Exploit(n), protocol=5))
    _rewrite_during_load(monkeypatch, PickleSerializer, path, exploit)
    with open(path, "rb") as fh:
        checked, copy = check_payload(fh, "test", expected_checksum=ref.checksum, in_memory_max=1000)
        assert copy is not None and not isinstance(copy, type(fh))  # a temporary file, not fh
        assert checked.checksum == ref.checksum
        copy.close()
    got = result_from_dict(json.loads(ref.json())).get()
    assert got == value and MARK not in os.environ


def test_rewrite_before_the_check_is_caught_not_loaded(storage):
    """The other order: bytes changed before they are read fail the checksum."""
    value = ["a", "b" * 20_000]
    ref = persist_value(value, storage=storage, serializer=PickleSerializer(picklelib="pickle"), key="k")
    path = Path(storage.basepath) / "k"
    _h, original, _t = split(path.read_bytes())
    rewrite_in_place(path, same_length(original, lambda n: pickle.dumps(_Exploit(n), protocol=5)))
    with pytest.raises(CorruptResultError, match="is corrupt"):
        result_from_dict(json.loads(ref.json())).get()
    assert MARK not in os.environ
