"""The stored format: layout, checksum verification, damaged and foreign files, streaming."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import pickle
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import blake3
import pytest
from conveyor.exceptions import CorruptResultError, ResultNotFoundError, SerializationError
from conveyor.filesystems import LocalFileSystem, StorageBlock
from conveyor.results import (
    ResultReference,
    hashing,
    persist_value,
    read_result,
    read_result_file,
    read_result_header,
    result_from_dict,
    verify,
)
from conveyor.results.hashing import HashingWriter, write_stream
from conveyor.results.payload import PayloadReader, check_payload, read_chunks
from conveyor.serializers import JSONSerializer, PickleSerializer


@pytest.fixture
def storage(tmp_path: Path) -> LocalFileSystem:
    return LocalFileSystem(basepath=str(tmp_path / "store"))


#: A checksum for reading files that are refused before any checksum matters.
ANY_CHECKSUM = "sha256:" + "0" * 64


def path_of(storage: LocalFileSystem, ref: ResultReference) -> Path:
    return Path(storage.basepath) / ref.key


def fresh(ref: ResultReference) -> ResultReference:
    return result_from_dict(json.loads(ref.json()))  # type: ignore[return-value]


old_format = sys.modules["conveyor_tests_old_format"]  # loaded by tests/conftest.py


# -- layout: the stored object is the serializer's bytes --------------------------------


def test_stored_object_is_exactly_the_serializers_bytes(storage):
    ref = persist_value({"a": 1}, storage=storage, serializer=JSONSerializer(), key="r.json")
    raw = path_of(storage, ref).read_bytes()
    assert raw == JSONSerializer().dumps({"a": 1})  # nothing before, nothing after
    with open(path_of(storage, ref)) as fh:
        assert json.load(fh) == {"a": 1}
    # The description lives in the reference instead of a header and trailer.
    assert ref.format == 2 and ref.to_dict()["format"] == 2
    assert ref.serializer == JSONSerializer().to_dict()
    assert ref.size == len(raw)
    assert ref.checksum == "blake3:" + blake3.blake3(raw).hexdigest()  # results written now


def test_pickle_result_loads_with_pickle_load(storage):
    ref = persist_value([1, "x"], storage=storage, serializer=PickleSerializer(picklelib="pickle"))
    with open(path_of(storage, ref), "rb") as fh:
        assert pickle.load(fh) == [1, "x"]
    assert fresh(ref).get() == [1, "x"]


def test_read_result_file_needs_the_serializer_of_a_plain_result(storage):
    ref = persist_value({"k": [1]}, storage=storage, serializer=JSONSerializer(), key="x")
    assert read_result_file(
        storage, "x", checksum=ref.checksum, serializer=ref.serializer
    ) == {"k": [1]}
    with pytest.raises(CorruptResultError, match="records no serializer.*pass serializer="):
        read_result_file(storage, "x", checksum=ref.checksum)
    with pytest.raises(CorruptResultError, match="no conveyor header.*format 2"):
        read_result_header(storage, "x")
    assert ref.size > 0


def test_references_without_format_are_format_1_and_future_ones_are_refused():
    record = {
        "type": "reference", "key": "k", "storage": "s/x", "storage_document": "d",
        "serializer": {"type": "json"}, "checksum": ANY_CHECKSUM, "size": 1,
    }
    old = result_from_dict(record)
    assert old.format == 1 and "format" not in old.to_dict()  # written back as it was
    assert result_from_dict({**record, "format": 2}).format == 2
    from conveyor.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="upgrade conveyor"):
        result_from_dict({**record, "format": 3})


# -- old results (format 1: header, payload, trailer) are still read ---------------------


@pytest.mark.parametrize("name", ["json", "pickle"])
def test_old_format_blob_written_by_the_old_code_is_read(storage, name):
    blob, record = old_format.fixture(name)
    Path(storage.basepath).mkdir(parents=True)
    (Path(storage.basepath) / record["key"]).write_bytes(blob)
    from conveyor.results import record_storage

    document = record_storage(storage)
    ref = result_from_dict({**record, "storage": f"anonymous/{document}", "storage_document": document})
    assert ref.format == 1
    expected = {"rows": [1, 2, 3], "name": "old"} if name == "json" else {"rows": (1, 2, 3), "name": "old"}
    assert ref.get() == expected
    assert verify(fresh(ref)).ok
    # Read without a reference's format: the magic bytes tell, and the header's serializer.
    assert read_result_file(storage, record["key"], checksum=ref.checksum) == expected
    assert read_result_header(storage, record["key"])["serializer"]["type"] == name
    # A changed byte of the old payload is still refused.
    raw = bytearray(blob)
    raw[len(raw) - 60] ^= 1
    (Path(storage.basepath) / record["key"]).write_bytes(bytes(raw))
    with pytest.raises(CorruptResultError):
        fresh(ref).get()
    assert verify(fresh(ref)).status == "corrupt"


# -- damage ---------------------------------------------------------------------------


def test_flipped_payload_byte_is_corrupt_naming_both_digests(storage):
    ref = persist_value("x" * 1000, storage=storage, serializer=PickleSerializer())
    path = path_of(storage, ref)
    raw = bytearray(path.read_bytes())
    raw[500] ^= 0xFF
    path.write_bytes(bytes(raw))
    actual = "blake3:" + blake3.blake3(bytes(raw)).hexdigest()
    with pytest.raises(CorruptResultError) as info:
        fresh(ref).get()
    message = str(info.value)
    assert ref.checksum in message and actual in message
    assert ref.key in message and ref.storage in message
    problem = verify(fresh(ref))
    assert not problem and problem.status == "corrupt" and ref.checksum in (problem.problem or "")


def test_file_of_another_result_at_the_key_is_corrupt(storage):
    first = persist_value("first", storage=storage, serializer=PickleSerializer(), key="same")
    second = persist_value("second", storage=storage, serializer=PickleSerializer(), key="same")
    with pytest.raises(CorruptResultError) as info:
        fresh(first).get()
    assert first.checksum in str(info.value) or "reference expects" in str(info.value)
    assert fresh(second).get() == "second"
    same_size = persist_value("SECOND", storage=storage, serializer=PickleSerializer(), key="same")
    with pytest.raises(CorruptResultError) as info:
        fresh(second).get()  # the same size: the digest tells
    assert second.checksum in str(info.value) and same_size.checksum in str(info.value)


def test_old_trailer_digest_changed_is_corrupt(storage):
    payload = PickleSerializer().dumps(b"abc" * 100)
    raw = bytearray(old_format.framed(payload, PickleSerializer().to_dict()))
    raw[-20] ^= 1  # inside the digest
    Path(storage.basepath).mkdir(parents=True)
    (Path(storage.basepath) / "old").write_bytes(bytes(raw))
    checksum = "sha256:" + hashlib.sha256(payload).hexdigest()
    with pytest.raises(CorruptResultError, match="different result"):
        read_result_file(storage, "old", checksum=checksum, format=1)
    # Read expecting what the (changed) trailer says: the payload does not match it either.
    trailer_checksum = "sha256:" + bytes(raw[-40:-8]).hex()
    with pytest.raises(CorruptResultError, match="is corrupt"):
        read_result_file(storage, "old", checksum=trailer_checksum)


def test_truncated_files_are_corrupt_never_struct_error(storage):
    ref = persist_value(list(range(200)), storage=storage, serializer=PickleSerializer())
    path = path_of(storage, ref)
    raw = path.read_bytes()
    for cut in [0, 1, 8, 9, len(raw) // 2, len(raw) - 1]:
        path.write_bytes(raw[:cut])
        with pytest.raises(CorruptResultError) as info:
            fresh(ref).get()
        assert ref.key in str(info.value), cut
        assert not verify(fresh(ref))


def cut_points(total: int, header_end: int) -> list[int]:
    return [0, 4, 8, 9, 12, 13, header_end - 1, header_end, header_end + 3, total - 48, total - 1]


def test_truncated_old_files_are_corrupt_never_struct_error(storage):
    payload = PickleSerializer().dumps(list(range(200)))
    raw = old_format.framed(payload, PickleSerializer().to_dict())
    record = old_format.old_reference(payload, PickleSerializer().to_dict(), "old")
    Path(storage.basepath).mkdir(parents=True)
    path = Path(storage.basepath) / "old"
    header_end = 13 + struct.unpack(">I", raw[9:13])[0]
    for cut in cut_points(len(raw), header_end):
        path.write_bytes(raw[:cut])
        for fmt in (1, None):
            with pytest.raises(CorruptResultError) as info:
                read_result(storage, "old", checksum=record["checksum"], size=record["size"], format=fmt)
            assert "'old'" in str(info.value), cut


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello world",
        pickle.dumps({"a": 1}),
        b"CONVEYOR",
        b"CONVEYOR\x09" + b"\0" * 100,
        b"CONVEYOR\x01\xff\xff\xff\xff" + b"x" * 100,
        b"CONVEYOR\x01\x00\x00\x00\x02[]" + b"\0" * 48,
    ],
    ids=[
        "empty",
        "text",
        "pickle",
        "magic-only",
        "future-version",
        "huge-header",
        "header-not-object",
    ],
)
@pytest.mark.parametrize("fmt", [None, 1, 2])
def test_foreign_files_are_corrupt(storage, content, fmt):
    (Path(storage.basepath)).mkdir(parents=True, exist_ok=True)
    (Path(storage.basepath) / "foreign").write_bytes(content)
    with pytest.raises(CorruptResultError) as info:
        read_result_file(storage, "foreign", checksum=ANY_CHECKSUM, serializer={"type": "json"}, format=fmt)
    assert "'foreign'" in str(info.value)


def test_not_a_conveyor_result_says_so(storage):
    Path(storage.basepath).mkdir(parents=True)
    (Path(storage.basepath) / "note.txt").write_bytes(b"just some text file\n")
    with pytest.raises(CorruptResultError, match="is not a conveyor result"):
        read_result_file(storage, "note.txt", checksum=ANY_CHECKSUM, format=1)
    with pytest.raises(CorruptResultError, match="reference expects"):
        read_result_file(storage, "note.txt", checksum=ANY_CHECKSUM, serializer={"type": "json"})


def test_future_framed_version_asks_for_an_upgrade(storage):
    Path(storage.basepath).mkdir(parents=True)
    (Path(storage.basepath) / "v9").write_bytes(b"CONVEYOR\x09\x00\x00\x00\x02{}" + b"\0" * 48)
    with pytest.raises(CorruptResultError, match="upgrade conveyor"):
        read_result_file(storage, "v9", checksum=ANY_CHECKSUM, format=1)


def test_missing_key_names_storage_and_key(storage):
    ref = persist_value(1.5, storage=storage, serializer=PickleSerializer())
    path_of(storage, ref).unlink()
    with pytest.raises(ResultNotFoundError) as info:
        fresh(ref).get()
    assert ref.key in str(info.value) and ref.storage in str(info.value)
    problem = verify(fresh(ref))
    assert not problem.ok and problem.status == "missing" and ref.key in (problem.problem or "")
    assert "not found" in (problem.problem or "")


def test_verify_ok_does_not_deserialize(storage, monkeypatch):
    ref = persist_value({"v": 1}, storage=storage, serializer=PickleSerializer())

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("verify must not deserialize")

    monkeypatch.setattr(PickleSerializer, "load", refuse)
    monkeypatch.setattr(PickleSerializer, "loads", refuse)
    outcome = verify(fresh(ref))
    assert outcome.ok and outcome.checksum == ref.checksum and outcome.size == ref.size
    assert outcome.status == "ok" and outcome.problem is None
    assert verify(ref.to_dict()).ok


def test_deserialization_failure_after_good_checksum_is_a_serialization_error(storage):
    ref = persist_value(b"raw", storage=storage, serializer=PickleSerializer())
    bad = result_from_dict({**ref.to_dict(), "serializer": {"type": "json", "jsonlib": "json"}})
    with pytest.raises(SerializationError, match="checksum matched"):
        bad.get()


# -- streams --------------------------------------------------------------------------


class OneWayReader(io.RawIOBase):
    """A non-seekable body, like an HTTP response: read(n) and readinto only."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step  # short reads, as a network body gives them

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._step, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


@attrs.frozen
class StreamOnlyStorage(StorageBlock):
    """A storage whose reads are non-seekable and whose writes only offer write()."""

    block_type: ClassVar[str] = "test-stream-only"
    files: dict[str, bytes] = attrs.field(factory=dict, eq=False)

    def write_path(self, path: str, content: bytes) -> str:
        self.files[path] = bytes(content)
        return path

    def read_path(self, path: str) -> bytes:
        if path not in self.files:
            raise ResultNotFoundError(f"no {path!r}")
        return self.files[path]

    @contextlib.contextmanager
    def open_read(self, path: str) -> Iterator[Any]:
        yield OneWayReader(self.read_path(path), step=1000)


@pytest.mark.parametrize(
    "serializer", [PickleSerializer(), JSONSerializer()], ids=["pickle", "json"]
)
def test_non_seekable_storage_round_trip(serializer):
    storage = StreamOnlyStorage()
    value = {"lines": ["a\n", "b"] * 50, "n": 3}
    ref = persist_value(value, storage=storage, serializer=serializer, key="k")
    got = read_result(storage, "k", serializer=ref.serializer, checksum=ref.checksum, size=ref.size)
    assert got == value


def test_non_seekable_damage_is_detected():
    storage = StreamOnlyStorage()
    ref = persist_value("y" * 5000, storage=storage, serializer=PickleSerializer(), key="k")
    raw = bytearray(storage.files["k"])
    raw[len(raw) // 2] ^= 1
    storage.files["k"] = bytes(raw)
    with pytest.raises(CorruptResultError) as info:
        read_result(storage, "k", checksum=ref.checksum, size=ref.size)
    assert ref.checksum in str(info.value)
    for cut in (0, 20, len(raw) - 48, len(raw) - 1):
        storage.files["k"] = bytes(raw[:cut])
        with pytest.raises(CorruptResultError):
            read_result(storage, "k", checksum=ref.checksum)


@pytest.mark.parametrize("framed", [False, True], ids=["plain", "old-framed"])
@pytest.mark.parametrize("step", [1, 47, 48, 49, 4096, 1 << 20])
def test_spool_path_with_any_read_size_and_rollover_to_disk(step, framed):
    payload = bytes(range(256)) * 300
    out = io.BytesIO()
    checksum, size = write_stream(out, lambda w: w.write(payload))
    assert out.getvalue() == payload
    stored = old_format.framed(payload, {"type": "x"}) if framed else payload
    if framed:  # an old framed result's reference has its trailer's sha256
        checksum = "sha256:" + hashlib.sha256(payload).hexdigest()
    source = OneWayReader(stored, step=step)
    checked, spool = check_payload(
        source, "test", expected_checksum=checksum, spool_max_memory=1000,
        format=None if step % 2 else (1 if framed else 2),
    )
    try:
        assert checked.checksum == checksum and checked.trailer.size == size == len(payload)
        assert checked.reader.read() == payload
    finally:
        assert spool is not None
        spool.close()


def test_payload_reader_is_bounded():
    data = b"HEAD" + b"line1\nline2\n" + b"TRAILER"
    source = io.BytesIO(data)
    source.seek(4)
    reader = PayloadReader(source, 12)  # type: ignore[arg-type]
    assert reader.readline() == b"line1\n"
    buf = bytearray(100)
    assert reader.readinto(buf) == 6 and bytes(buf[:6]) == b"line2\n"
    assert reader.read() == b"" and reader.read(5) == b""


@pytest.mark.parametrize("threshold", [1, 1 << 30])
def test_hashing_writer_hashes_and_counts_any_buffer(threshold):
    target = io.BytesIO()
    writer = HashingWriter(target, parallel_threshold=threshold)
    pieces: list[Any] = [b"abc", bytearray(b"def" * 1000), memoryview(b"0123456789")[2:8]]
    try:
        import numpy as np

        pieces.append(np.arange(1000, dtype=np.int64))  # a multi-byte, typed buffer
    except ImportError:
        pass
    expected = b"".join(bytes(memoryview(p).cast("B")) for p in pieces)
    try:
        for piece in pieces:
            writer.write(piece)
    finally:
        writer.finish()  # stops the hashing thread; a leftover one fails later tests
    assert writer.size == len(expected) == len(target.getvalue())
    assert writer.digest() == blake3.blake3(expected).digest()


def test_storage_failure_while_streaming_is_a_storage_error(tmp_path):
    from conveyor.exceptions import StorageError

    @attrs.frozen
    class Failing(StorageBlock):
        block_type: ClassVar[str] = "test-failing"

        def write_path(self, path: str, content: bytes) -> str:
            raise OSError(28, "No space left on device")

        def read_path(self, path: str) -> bytes:
            raise ResultNotFoundError(path)

    with pytest.raises(StorageError, match="No space left"):
        persist_value(b"x" * 10, storage=Failing(), serializer=PickleSerializer(), key="k")


def test_early_writeback_on_a_real_file(tmp_path, monkeypatch):
    import threading

    monkeypatch.setattr(hashing, "WRITEBACK_THRESHOLD", 1)
    payload = [b"a" * 5000, bytearray(b"b" * 70000), b"c"]
    path = tmp_path / "out.bin"
    with open(path, "wb") as fh:
        checksum, size = write_stream(fh, lambda w: [w.write(p) for p in payload])
    assert not [t for t in threading.enumerate() if t.name == "conveyor-writeback"]
    with open(path, "rb") as fh:
        checked, spool = check_payload(fh, "test", expected_checksum=checksum)
        # The payload is read from the file once, into a private copy that is read back
        # (never the file again: see tests/test_security_exact_bytes.py).
        assert spool is not None and spool is not fh
        assert checked.reader.read() == b"".join(payload)
    assert size == 75001


@pytest.mark.parametrize("ahead", [True, False])
@pytest.mark.parametrize("limit", [None, 0, 1, 999, 1000, 1001, 5000, 10_000, 10_240, 20_000])
@pytest.mark.parametrize("step", [7, 1000, 1 << 20])
def test_read_chunks_reads_exactly_what_was_asked(limit, step, ahead):
    data = bytes(range(256)) * 40  # 10,240 bytes
    source = OneWayReader(data, step=step)
    chunks = read_chunks(source, limit, chunk=1000, ahead=ahead)
    got = b"".join(bytes(c) for c in chunks)
    assert got == data[: limit if limit is not None else len(data)]


def test_read_chunks_passes_on_a_source_error():
    class Failing(OneWayReader):
        def readinto(self, buffer):
            if self._pos >= 3000:
                raise OSError(104, "Connection reset by peer")
            return super().readinto(buffer)

    with pytest.raises(OSError, match="Connection reset"):
        for _chunk in read_chunks(Failing(b"x" * 10_000, step=500), chunk=1000):
            pass


def test_verify_literals_unpersisted_and_bad_records():
    from conveyor.results import ResultLiteral, UnpersistedResult

    assert verify(ResultLiteral(True)).ok
    outcome = verify(UnpersistedResult(3))
    assert not outcome.ok and outcome.status == "unavailable"
    outcome = verify({"type": "reference", "key": "k"})
    assert not outcome.ok and outcome.status == "unreadable"
    gone = {
        "type": "reference",
        "key": "k",
        "storage": "local-file-system/never-saved",
        "storage_document": "0" * 32,
        "serializer": {"type": "pickle"},
        "checksum": "sha256:" + "0" * 64,
        "size": 1,
    }
    outcome = verify(gone)
    assert outcome.status == "unreadable" and "never-saved" in (outcome.problem or "")


# -- object metadata: handed to blocks that take it, never to those that do not ----------


def test_metadata_reaches_a_block_whose_write_path_takes_it():
    @attrs.frozen
    class Recording(StreamOnlyStorage):
        block_type: ClassVar[str] = "test-recording"
        metadata: dict[str, dict[str, str]] = attrs.field(factory=dict, eq=False)

        def write_path(self, path: str, content: bytes, metadata: dict[str, str] | None = None) -> str:
            self.metadata[path] = dict(metadata or {})
            return super().write_path(path, content)

    storage = Recording()
    ref = persist_value({"a": 1}, storage=storage, serializer=JSONSerializer(), key="k",
                        metadata={"task-run": "t1"})
    assert storage.files["k"] == JSONSerializer().dumps({"a": 1})
    meta = storage.metadata["k"]
    # The checksum and size, known only once the payload is written, are there too.
    assert meta["conveyor-checksum"] == ref.checksum and meta["conveyor-size"] == str(ref.size)
    assert meta["conveyor-format"] == "2" and meta["conveyor-serializer"] == "json"
    assert meta["conveyor-task-run"] == "t1"


def test_third_party_blocks_without_metadata_keep_working():
    from conveyor.filesystems import accepts_metadata

    @attrs.frozen
    class OldStyle(StreamOnlyStorage):
        """Overrides open_write with the signature blocks had before ``metadata``."""

        block_type: ClassVar[str] = "test-old-style"

        @contextlib.contextmanager
        def open_write(self, path: str) -> Iterator[Any]:
            buffer = io.BytesIO()
            yield buffer
            self.files[path] = buffer.getvalue()

    @attrs.frozen
    class Declines(StreamOnlyStorage):
        block_type: ClassVar[str] = "test-declines"

        @contextlib.contextmanager
        def open_write(self, path: str, **options: Any) -> Iterator[Any]:
            assert not options
            buffer = io.BytesIO()
            yield buffer
            self.files[path] = buffer.getvalue()

        open_write.accepts_metadata = False  # type: ignore[attr-defined]

    for storage in (OldStyle(), Declines(), StreamOnlyStorage()):
        assert not accepts_metadata(storage.write_path)
        ref = persist_value([1, 2], storage=storage, serializer=JSONSerializer(), key="k")
        assert storage.files["k"] == JSONSerializer().dumps([1, 2])
        assert fresh_from(storage, ref) == [1, 2]
    assert not accepts_metadata(OldStyle().open_write) and not accepts_metadata(Declines().open_write)
    assert accepts_metadata(StreamOnlyStorage().open_write)  # the base class's


def fresh_from(storage: StorageBlock, ref: ResultReference) -> Any:
    return read_result(storage, ref.key, serializer=ref.serializer, checksum=ref.checksum,
                       size=ref.size, format=ref.format)
