"""ResultLiteral, UnpersistedResult, ResultReference: values, records, caching."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from conveyor.blocks import delete_block
from conveyor.exceptions import (
    ConfigurationError,
    InvalidKeyError,
    MissingResult,
    SerializationError,
)
from conveyor.filesystems import LocalFileSystem
from conveyor.results import (
    ResultLiteral,
    ResultReference,
    UnpersistedResult,
    is_literal,
    persist_value,
    result_from_dict,
    result_from_json,
)
from conveyor.serializers import JSONSerializer, PickleSerializer


@pytest.fixture
def storage(tmp_path: Path) -> LocalFileSystem:
    return LocalFileSystem(basepath=str(tmp_path / "store"))


def fresh(reference: ResultReference) -> ResultReference:
    """The reference as another process sees it: rebuilt from its JSON, nothing cached."""
    rebuilt = result_from_dict(json.loads(reference.json()))
    assert isinstance(rebuilt, ResultReference)
    assert not rebuilt.is_cached
    return rebuilt


# -- literals -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [(True, "true"), (False, "false"), (None, "null")])
def test_literal_records_its_json_text(value, text):
    literal = ResultLiteral(value)
    assert literal.get() is value
    assert literal.to_dict() == {"type": "result", "value": text}
    assert json.loads(literal.json()) == {"type": "result", "value": text}
    rebuilt = result_from_dict(literal.to_dict())
    assert rebuilt == literal and rebuilt.get() is value


def test_literal_none_json_is_exactly_the_documented_form():
    assert json.loads(ResultLiteral(value=None).json()) == {"type": "result", "value": "null"}


@pytest.mark.parametrize("value", [1, 0, 1.0, 0.0, "true", "", [], {}, (), b""])
def test_literal_refuses_anything_but_true_false_none(value):
    assert not is_literal(value)
    with pytest.raises(TypeError, match="True, False or None"):
        ResultLiteral(value)


def test_is_literal_by_identity():
    assert is_literal(True) and is_literal(False) and is_literal(None)
    assert not is_literal(1) and not is_literal(0)


def test_literal_record_with_unknown_text_is_refused():
    with pytest.raises(ConfigurationError, match="only 'true', 'false' and 'null'"):
        result_from_dict({"type": "result", "value": "1"})


def test_unknown_record_type_is_refused():
    with pytest.raises(ConfigurationError, match="unknown result record"):
        result_from_dict({"type": "blob"})


# -- unpersisted ----------------------------------------------------------------------


def test_unpersisted_returns_value_in_its_process():
    value = {"big": list(range(10))}
    result = UnpersistedResult(value)
    assert result.get() is value
    assert UnpersistedResult(None).get() is None
    assert result.to_dict() == {"type": "unpersisted"}
    assert "big" not in result.json() and "big" not in repr(result)


def test_unpersisted_rebuilt_from_record_raises_missing_result_with_the_fix():
    rebuilt = result_from_json(UnpersistedResult(42).json())
    assert isinstance(rebuilt, UnpersistedResult) and not rebuilt.available
    with pytest.raises(MissingResult) as info:
        rebuilt.get()
    message = str(info.value)
    assert "in memory only" in message
    assert "persist_result=True" in message
    assert "CONVEYOR_RESULTS_PERSIST_BY_DEFAULT=true" in message


# -- references -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "serializer", [PickleSerializer(), JSONSerializer()], ids=["pickle", "json"]
)
def test_reference_round_trip_through_local_storage(storage, serializer):
    value = {"numbers": [1, 2, 3], "text": "héllo"}
    ref = persist_value(value, storage=storage, serializer=serializer)
    assert ref.get() is value  # cached by the writer
    assert ref.serializer == serializer.to_dict()
    assert ref.checksum.startswith("blake3:") and len(ref.checksum) == 7 + 64
    assert ref.storage == f"anonymous/{ref.storage_document}"
    assert fresh(ref).get() == value


def test_reference_json_holds_no_part_of_the_value(storage):
    marker = "MARKER-5f1c0e0a-unique-value-text"
    ref = persist_value({"payload": marker * 3}, storage=storage, serializer=PickleSerializer())
    record = ref.json()
    assert marker not in record
    assert marker[:12] not in record
    assert set(json.loads(record)) == {
        "type",
        "key",
        "storage",
        "storage_document",
        "serializer",
        "checksum",
        "size",
        "format",
    }
    assert marker not in repr(ref)


def test_reference_record_round_trips(storage):
    ref = persist_value([1, 2], storage=storage, serializer=PickleSerializer())
    rebuilt = fresh(ref)
    assert rebuilt == ref
    assert rebuilt.to_dict() == ref.to_dict()


def test_get_is_cached_no_storage_touched_the_second_time(storage):
    ref = persist_value("some value", storage=storage, serializer=PickleSerializer())
    reader = fresh(ref)
    assert reader.get() == "some value"
    (Path(storage.basepath) / ref.key).unlink()
    assert reader.get() == "some value"
    reader.forget()
    with pytest.raises(FileNotFoundError):
        reader.get()


def test_concurrent_gets_read_storage_once(storage, monkeypatch):
    ref = persist_value(list(range(1000)), storage=storage, serializer=PickleSerializer())
    reader = fresh(ref)
    calls = []
    original = LocalFileSystem.open_read

    def counting_open_read(self, path):
        calls.append(path)
        return original(self, path)

    monkeypatch.setattr(LocalFileSystem, "open_read", counting_open_read)
    results: list[object] = []
    barrier = threading.Barrier(8)

    def work():
        barrier.wait()
        results.append(reader.get())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_key_given_by_the_caller(storage):
    ref = persist_value(
        {"x": 1}, storage=storage, serializer=JSONSerializer(), key="reports/2024/out.json"
    )
    assert ref.key == "reports/2024/out.json"
    assert (Path(storage.basepath) / "reports" / "2024" / "out.json").is_file()
    assert fresh(ref).get() == {"x": 1}


@pytest.mark.parametrize("key", ["../escape", "/abs/path", ""])
def test_bad_key_is_refused_before_writing(storage, key):
    with pytest.raises(InvalidKeyError):
        persist_value(1, storage=storage, serializer=PickleSerializer(), key=key)


def test_default_keys_are_random_hex(storage):
    a = persist_value(1, storage=storage, serializer=PickleSerializer())
    b = persist_value(1, storage=storage, serializer=PickleSerializer())
    assert a.key != b.key and len(a.key) == 32 and int(a.key, 16) >= 0
    assert a.storage_document == b.storage_document  # one document per configuration


def test_unserializable_value_is_a_serialization_error_and_writes_nothing(storage):
    with pytest.raises(SerializationError, match="object") as info:
        persist_value(object(), storage=storage, serializer=JSONSerializer(), key="k")
    assert "result_serializer='pickle'" in str(info.value)
    assert not (Path(storage.basepath) / "k").exists()
    # no temporary file left either (the block's empty staging folder may stay)
    assert not [p for p in Path(storage.basepath).rglob("*") if p.is_file()]


def test_serializer_raising_a_plain_error_is_wrapped(storage):
    class Refusing(JSONSerializer):
        def dump(self, obj, file):
            file.write(b"[1, 2")
            raise RuntimeError("refused halfway")

    with pytest.raises(SerializationError, match="could not serialize a list .*refused halfway"):
        persist_value([1, 2], storage=storage, serializer=Refusing(), key="k")
    assert not (Path(storage.basepath) / "k").exists()


def test_saved_slug_is_recorded_and_used(storage):
    slug = storage.save("mine")
    ref = persist_value("v", storage=storage, serializer=PickleSerializer(), storage_slug=slug)
    assert ref.storage == "local-file-system/mine"
    assert fresh(ref).get() == "v"


def test_saved_block_deleted_falls_back_to_recorded_document(storage):
    slug = storage.save("gone")
    ref = persist_value("v", storage=storage, serializer=PickleSerializer(), storage_slug=slug)
    delete_block(slug)
    assert fresh(ref).get() == "v"


def test_exception_values_round_trip(storage):
    ref = persist_value(ValueError("boom"), storage=storage, serializer=PickleSerializer())
    got = fresh(ref).get()
    assert isinstance(got, ValueError) and got.args == ("boom",)


def test_numpy_array_round_trip(storage):
    np = pytest.importorskip("numpy")
    array = np.arange(3 << 20, dtype=np.float32).reshape(1024, -1)  # 12 MiB: parallel hashing
    ref = persist_value(array, storage=storage, serializer=PickleSerializer())
    got = fresh(ref).get()
    assert got.dtype == array.dtype and got.shape == array.shape
    assert np.array_equal(got, array)


def test_references_and_results_survive_pickling_and_copying(storage):
    import copy
    import pickle

    ref = persist_value({"v": 1}, storage=storage, serializer=PickleSerializer())
    for clone in (pickle.loads(pickle.dumps(ref)), copy.deepcopy(ref), copy.copy(ref)):
        assert clone == ref and clone.get() == {"v": 1}
    assert hash(ref) == hash(fresh(ref))
    missing = pickle.loads(pickle.dumps(result_from_dict({"type": "unpersisted"})))
    assert not missing.available
    with pytest.raises(MissingResult):
        missing.get()
    assert pickle.loads(pickle.dumps(UnpersistedResult(7))).get() == 7
    assert pickle.loads(pickle.dumps(ResultLiteral(False))) == ResultLiteral(False)


def test_storage_failure_wrapped_by_the_serializer_is_still_a_storage_error(storage, monkeypatch):
    from conveyor.exceptions import StorageError

    class Wrapping(JSONSerializer):
        def dump(self, obj, file):
            try:
                file.write(b"[]")
            except OSError as exc:
                raise SerializationError(f"wrapped: {exc}") from exc

    class BrokenFile:
        writes = 0

        def write(self, data):  # the payload (all that is written) fails
            self.writes += 1
            raise OSError(5, "Input/output error")

    import contextlib

    @contextlib.contextmanager
    def broken_open_write(self, path):
        yield BrokenFile()

    monkeypatch.setattr(LocalFileSystem, "open_write", broken_open_write)
    with pytest.raises(StorageError, match="Input/output error"):
        persist_value([], storage=storage, serializer=Wrapping(), key="k")


def test_concurrent_persists_and_reads_from_a_thread_pool(storage):
    from concurrent.futures import ThreadPoolExecutor

    values = [bytes([i]) * ((5 << 20) if i % 4 == 0 else 1000 + i) for i in range(12)]
    earlier = set(threading.enumerate())  # e.g. an earlier test's idle store writer

    def persist(value: bytes) -> str:
        return persist_value(value, storage=storage, serializer=PickleSerializer()).json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        records = list(pool.map(persist, values))
        read = list(pool.map(lambda r: result_from_dict(json.loads(r)).get(), records))
    assert read == values
    assert len({json.loads(r)["key"] for r in records}) == len(values)
    left = [t for t in threading.enumerate() if t.name.startswith("conveyor-") and t not in earlier]
    assert not left


@pytest.mark.parametrize(
    ("field", "bad"),
    [("size", -1), ("size", "12"), ("size", True), ("checksum", "md5:abc"), ("checksum", None)],
)
def test_damaged_reference_records_are_refused(storage, field, bad):
    record = persist_value(1.5, storage=storage, serializer=PickleSerializer()).to_dict()
    record[field] = bad
    with pytest.raises(ConfigurationError, match="damaged"):
        result_from_dict(record)
    with pytest.raises(ValueError):
        ResultReference(**{k: v for k, v in record.items() if k != "type"})


def test_persist_value_does_not_call_the_result_persisted_hook(storage, fresh_plugin_manager):
    from conveyor import hookimpl

    calls = []

    class Recorder:
        @hookimpl
        def conveyor_result_persisted(self, run_id, run_kind, reference):
            calls.append(reference)

    fresh_plugin_manager.register(Recorder(), name="test-recorder")
    try:
        persist_value("v", storage=storage, serializer=PickleSerializer())
    finally:
        fresh_plugin_manager.unregister(name="test-recorder")
    assert calls == []  # the engine calls it, after recording the state
