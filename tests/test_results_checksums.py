"""The checksum of a stored result: BLAKE3 for results written now, sha256 still verified.

References made before BLAKE3 (plain payloads, format 2, and framed ones, format 1) say
``sha256:<hex>``; they must keep verifying, signed or not, and a damaged payload must be
refused before anything is deserialized, whichever algorithm the reference names.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import blake3
import pytest
from conveyor.exceptions import CorruptResultError, SignatureError
from conveyor.filesystems import LocalFileSystem
from conveyor.results import (
    ResultReference,
    persist_value,
    read_result,
    result_from_dict,
    verify,
    written_reference,
)
from conveyor.results import digests
from conveyor.serializers import JSONSerializer, PickleSerializer

_old_format = sys.modules["conveyor_tests_old_format"]  # loaded by tests/conftest.py

MARK = "CONVEYOR_TEST_CHECKSUM_PWNED"


class _Exploit:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (exec, (f"import os; os.environ[{MARK!r}] = '1'",))


@pytest.fixture(autouse=True)
def _no_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MARK, raising=False)
    for var in ("CONVEYOR_RESULTS_SIGNING_KEY", "CONVEYOR_RESULTS_SIGNING_KEY_FILE",
                "CONVEYOR_RESULTS_VERIFICATION_KEYS", "CONVEYOR_RESULTS_REQUIRE_SIGNATURES"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def storage(tmp_path: Path, conveyor_home: Path) -> LocalFileSystem:
    return LocalFileSystem(basepath=str(tmp_path / "store"))


def fresh(ref: ResultReference) -> ResultReference:
    return result_from_dict(json.loads(ref.json()))  # type: ignore[return-value]


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def plain_sha256_reference(storage: LocalFileSystem, key: str, value: Any) -> ResultReference:
    """A result as the code before BLAKE3 wrote it: the serializer's bytes under ``key``
    and a format-2 reference with their sha256 (signed if a key is set, as it was)."""
    serializer = PickleSerializer(picklelib="pickle")
    payload = serializer.dumps(value)
    storage.write_path(key, payload)
    template = persist_value(0, storage=storage, serializer=serializer)  # records the block
    return written_reference(key, template.storage, template.storage_document, serializer,
                             sha256_of(payload), len(payload))


def test_new_results_are_checksummed_with_blake3(storage):
    for value in (b"x" * 100, os.urandom(5 << 20)):  # the second one is hashed on every core
        ref = persist_value(value, storage=storage, serializer=PickleSerializer())
        raw = (Path(storage.basepath) / ref.key).read_bytes()
        assert ref.checksum == "blake3:" + blake3.blake3(raw).hexdigest()
        assert fresh(ref).get() == value
        assert verify(fresh(ref))


def test_checksum_texts_name_their_algorithm():
    assert digests.algorithm_of("blake3:" + "0" * 64) == "blake3"
    assert digests.algorithm_of("sha256:" + "0" * 64) == "sha256"
    for bad in ("md5:abc", "blake3", "", None, 3, "SHA256:00"):
        assert digests.algorithm_of(bad) is None
        with pytest.raises(ValueError, match="blake3:<hex>"):
            ResultReference(key="k", storage="s", storage_document="d", serializer={},
                            checksum=bad, size=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="blake3:<hex>"):
        read_result(LocalFileSystem(basepath="."), "k", checksum="md5:00")
    assert digests.checksum_of(b"abc", "sha256") == sha256_of(b"abc")
    assert digests.checksum_of(b"abc") == "blake3:" + blake3.blake3(b"abc").hexdigest()


@pytest.mark.parametrize("size", [1000, 5 << 20, 9 << 20])  # 9 MiB: the huge-page private copy
def test_old_sha256_plain_reference_still_verifies_and_loads(storage, size):
    value = os.urandom(size)
    ref = plain_sha256_reference(storage, "old-plain", value)
    assert ref.checksum.startswith("sha256:") and ref.format == 2
    assert fresh(ref).get() == value
    checked = verify(fresh(ref))
    assert checked and checked.checksum == ref.checksum


def test_old_framed_reference_still_verifies_and_loads(storage):
    serializer = JSONSerializer()
    payload = serializer.dumps({"old": [1, 2]})
    (Path(storage.basepath)).mkdir(parents=True, exist_ok=True)
    (Path(storage.basepath) / "framed").write_bytes(_old_format.framed(payload, serializer.to_dict()))
    template = persist_value(0, storage=storage, serializer=serializer)
    record = _old_format.old_reference(payload, serializer.to_dict(), "framed",
                                       storage=template.storage,
                                       storage_document=template.storage_document)
    ref = result_from_dict(record)
    assert ref.checksum.startswith("sha256:") and ref.format == 1
    assert ref.get() == {"old": [1, 2]}
    assert verify(result_from_dict(record))


@pytest.mark.parametrize("size", [5 << 20, 9 << 20])
@pytest.mark.parametrize("algorithm", ["blake3", "sha256"])
def test_a_damaged_payload_is_refused_before_it_is_unpickled(storage, algorithm, size):
    value = os.urandom(size)
    if algorithm == "blake3":
        ref = persist_value(value, storage=storage, serializer=PickleSerializer(picklelib="pickle"))
    else:
        ref = plain_sha256_reference(storage, "old", value)
    path = Path(storage.basepath) / ref.key
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptResultError) as info:
        fresh(ref).get()
    assert ref.checksum in str(info.value) and f"{algorithm}:" in str(info.value)
    assert not verify(fresh(ref))
    # A payload swapped for code to run is refused before the unpickler sees it.
    exploit = pickle.dumps(_Exploit(), protocol=5)
    path.write_bytes(exploit)
    sized = result_from_dict({**json.loads(ref.json()), "size": len(exploit)})
    with pytest.raises(CorruptResultError):
        sized.get()
    assert MARK not in os.environ


def test_signed_references_verify_with_either_algorithm(storage, monkeypatch):
    monkeypatch.setenv("CONVEYOR_RESULTS_SIGNING_KEY", "2024:" + "a" * 32)
    new = persist_value({"n": 1}, storage=storage, serializer=PickleSerializer())
    assert new.checksum.startswith("blake3:") and new.signature
    assert fresh(new).get() == {"n": 1}
    old = plain_sha256_reference(storage, "old-signed", {"o": 2})
    assert old.signature and old.checksum.startswith("sha256:")
    assert fresh(old).get() == {"o": 2}
    # The signature covers the checksum, algorithm included: no switching it.
    payload = (Path(storage.basepath) / new.key).read_bytes()
    switched = {**json.loads(new.json()), "checksum": sha256_of(payload)}
    with pytest.raises(SignatureError, match="does not match its signature"):
        result_from_dict(switched).get()


def test_prefaulting_a_large_destination_changes_nothing(tmp_path):
    import io

    from conveyor.results import prefault as prefault_module
    from conveyor.results.copying import PayloadReader

    data = os.urandom(prefault_module.PREFAULT_MIN + 12345)
    target = bytearray(len(data) + 7)
    target[:3] = b"abc"
    prefault_module.prefault(memoryview(target)[3:])  # pages mapped, no byte changed
    assert target[:3] == b"abc" and not any(target[3:])
    prefault_module.prefault(memoryview(bytes(10)))  # read-only or small: nothing to do
    reader = PayloadReader(io.BytesIO(data), len(data))  # type: ignore[arg-type]
    view = memoryview(target)[7:]
    assert reader.readinto(view) == len(data) and bytes(view) == data
    # The unpickler's path: a large bytes value read back through the reader.
    assert pickle.load(PayloadReader(io.BytesIO(pickle.dumps(data, protocol=5)),  # type: ignore[arg-type]
                                     len(pickle.dumps(data, protocol=5)))) == data


def test_a_large_private_copy_reads_like_a_file_and_is_released():
    import io

    from conveyor.results.copying import MemoryCopy, copy_region
    from conveyor.results.prefault import PREFAULT_MIN, private_buffer

    data = b"first line\nsecond\n" + os.urandom(PREFAULT_MIN)
    checksum, copy = copy_region(io.BytesIO(data), len(data), "the test result")  # type: ignore[arg-type]
    assert isinstance(copy, MemoryCopy) and checksum == digests.checksum_of(data)
    assert copy.readline() == b"first line\n" and copy.readline(3) == b"sec"
    assert copy.read(4) == b"ond\n" and copy.tell() == 18
    into = bytearray(10)
    assert copy.readinto(into) == 10 and bytes(into) == data[18:28]
    assert copy.read() == data[28:] and copy.read() == b"" and copy.readinto(into) == 0
    assert copy.seek(-5, io.SEEK_END) == len(data) - 5 and copy.read(100) == data[-5:]
    copy.seek(0)
    assert io.BufferedReader(copy).read(10) == data[:10]  # usable behind a buffered reader
    copy.close()
    assert copy.closed
    copy.close()  # twice: nothing more to release
    # Small buffers are plain memory; a source shorter than promised is refused, the
    # large buffer already made released with it.
    assert isinstance(private_buffer(10), bytearray)
    with pytest.raises(CorruptResultError, match="the test result is truncated"):
        copy_region(io.BytesIO(data[:-1]), len(data), "the test result")  # type: ignore[arg-type]
