"""PickleSerializer: the conformance suite on cloudpickle and pickle, plus pickle's own."""

from __future__ import annotations

import json
import pickle
import sys
import threading
import types
import warnings
from typing import Any

import pytest
from conveyor.exceptions import ConfigurationError, SerializationError
from conveyor.serializers import PickleSerializer, serializer_from_dict
from conveyor.testing.serializers import (
    NonSeekableReader,
    SerializerConformance,
    WriteOnlyStream,
    assert_same,
    exact_values,
)
from conveyor_serializer_pickle.pickle_serializer import PicklelibVersionWarning, library_version

np = pytest.importorskip("numpy")


class TestCloudpickleConformance(SerializerConformance):
    values = exact_values()
    unsupported = (threading.Lock(), {"a": [1, threading.RLock()]}, (x for x in ()))

    @pytest.fixture
    def serializer(self) -> PickleSerializer:
        return PickleSerializer()


class TestStdlibPickleConformance(TestCloudpickleConformance):
    @pytest.fixture
    def serializer(self) -> PickleSerializer:
        return PickleSerializer(picklelib="pickle")


# -- the library and its version ----------------------------------------------------------


def test_version_is_recorded_and_rebuilds_an_equal_serializer() -> None:
    import cloudpickle

    serializer = PickleSerializer()
    assert serializer.to_dict() == {
        "type": "pickle",
        "picklelib": "cloudpickle",
        "picklelib_version": cloudpickle.__version__,
    }
    rebuilt = serializer_from_dict(json.loads(json.dumps(serializer.to_dict())))
    assert rebuilt == serializer
    assert PickleSerializer(picklelib="pickle").picklelib_version == library_version("pickle")
    assert library_version("pickle").startswith("python-")


def test_loading_under_another_version_warns_naming_both_and_still_loads() -> None:
    import cloudpickle

    data = PickleSerializer().dumps({"a": 1})
    old = serializer_from_dict({"type": "pickle", "picklelib": "cloudpickle", "picklelib_version": "0.0.1"})
    with pytest.warns(PicklelibVersionWarning) as record:
        assert old.loads(data) == {"a": 1}
    message = str(record[0].message)
    assert "0.0.1" in message and cloudpickle.__version__ in message
    with pytest.warns(PicklelibVersionWarning):
        assert old.load(NonSeekableReader(data)) == {"a": 1}  # type: ignore[arg-type]


def test_same_version_does_not_warn() -> None:
    serializer = PickleSerializer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        serializer.loads(serializer.dumps([1]))


def test_missing_or_unfit_libraries_are_one_line_errors_naming_them() -> None:
    with pytest.raises(ConfigurationError, match="picklelib 'no_such_picklelib' cannot be imported") as info:
        PickleSerializer(picklelib="no_such_picklelib")
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigurationError, match="picklelib 'os' has no dumps or loads"):
        PickleSerializer(picklelib="os")
    with pytest.raises(ConfigurationError, match="no_such_picklelib"):
        serializer_from_dict({"type": "pickle", "picklelib": "no_such_picklelib", "picklelib_version": "1"})


@pytest.fixture
def minimal_lib(monkeypatch: pytest.MonkeyPatch) -> str:
    """A pickle library with only dumps and loads (no dump/load, no protocol argument)."""
    module = types.ModuleType("conveyor_minimal_picklelib")
    module.dumps = lambda obj: b"M" + pickle.dumps(obj)  # type: ignore[attr-defined]
    module.loads = lambda data: pickle.loads(bytes(data)[1:])  # type: ignore[attr-defined]
    module.__version__ = "9.9"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


def test_any_module_with_dumps_and_loads_works(minimal_lib: str) -> None:
    serializer = PickleSerializer(picklelib=minimal_lib)
    assert serializer.picklelib_version == "9.9"
    sink = WriteOnlyStream()
    serializer.dump({"x": (1, 2)}, sink)  # type: ignore[arg-type]
    assert sink.getvalue().startswith(b"M")
    assert serializer.load(NonSeekableReader(sink.getvalue())) == {"x": (1, 2)}  # type: ignore[arg-type]


# -- the culprit's path -------------------------------------------------------------------


class _Session:
    def __init__(self) -> None:
        self._lock = threading.RLock()


class _Model:
    def __init__(self) -> None:
        self._session = _Session()


@pytest.mark.parametrize("picklelib", ["cloudpickle", "pickle"])
def test_unpicklable_value_names_the_path_to_the_culprit(picklelib: str) -> None:
    serializer = PickleSerializer(picklelib=picklelib)
    value = {"weights": [1, 2], "model": _Model()}
    for call in (serializer.dumps, lambda v: serializer.dump(v, WriteOnlyStream())):
        with pytest.raises(SerializationError) as info:
            call(value)
        message = str(info.value)
        assert "value['model']._session._lock: cannot pickle '_thread.RLock' object" in message
        assert "result_serializer" in message and "persist_result=False" in message
        assert "\n" not in message


def test_culprit_inside_lists_tuples_slots_and_closures() -> None:
    serializer = PickleSerializer()

    class Slotted:
        __slots__ = ("handle",)

        def __init__(self) -> None:
            self.handle = threading.Lock()

    with pytest.raises(SerializationError, match=r"value\[1\]\[0\]\.handle: cannot pickle '_thread.lock'"):
        serializer.dumps([0, (Slotted(),)])
    lock = threading.Lock()

    def uses_lock() -> Any:
        return lock

    with pytest.raises(SerializationError, match=r"value\.<closure variable lock>: cannot pickle"):
        serializer.dumps(uses_lock)


def test_storage_errors_pass_through_unchanged() -> None:
    class Broken:
        def write(self, data: Any) -> int:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        PickleSerializer().dump(b"x" * 100, Broken())  # type: ignore[arg-type]


class _Gadget:
    pass


def test_unpickling_errors_say_what_to_do() -> None:
    data = pickle.dumps(_Gadget())
    broken = data.replace(b"_Gadget", b"_Nobody")
    with pytest.raises(SerializationError, match="install or import it"):
        PickleSerializer().loads(broken)
    with pytest.raises(SerializationError, match="damaged"):
        PickleSerializer().loads(b"\x80\x05garbage")


# -- streaming without copies --------------------------------------------------------------


class _RecordingSink:
    def __init__(self) -> None:
        self.chunks: list[memoryview] = []

    def write(self, data: Any) -> int:
        assert type(data) in (bytes, memoryview), type(data)
        view = memoryview(data)
        self.chunks.append(view)
        return view.nbytes


@pytest.mark.parametrize("picklelib", ["cloudpickle", "pickle"])
def test_large_bytes_go_to_the_file_without_a_copy(picklelib: str) -> None:
    value = b"\x01" * (8 << 20)
    sink = _RecordingSink()
    PickleSerializer(picklelib=picklelib).dump({"blob": value}, sink)  # type: ignore[arg-type]
    assert any(chunk.obj is value for chunk in sink.chunks)
    assert max(chunk.nbytes for chunk in sink.chunks if chunk.obj is not value) < 1 << 20


@pytest.mark.parametrize("picklelib", ["cloudpickle", "pickle"])
def test_large_numpy_arrays_go_to_the_file_without_a_copy(picklelib: str) -> None:
    array = np.arange(1 << 20, dtype=np.float64)
    sink = _RecordingSink()
    PickleSerializer(picklelib=picklelib).dump([array], sink)  # type: ignore[arg-type]
    shared = [c for c in sink.chunks if c.nbytes == array.nbytes]
    assert shared and np.shares_memory(np.frombuffer(shared[0], dtype=array.dtype), array)
    data = b"".join(bytes(c) for c in sink.chunks)
    back = PickleSerializer(picklelib=picklelib).load(NonSeekableReader(data))  # type: ignore[arg-type]
    assert_same(back[0].tolist(), array.tolist())


def test_load_reads_only_its_payload() -> None:
    serializer = PickleSerializer()
    reader = NonSeekableReader(serializer.dumps({"a": [1, 2]}) + b"TRAILER")
    assert serializer.load(reader) == {"a": [1, 2]}  # type: ignore[arg-type]
    assert reader.read() == b"TRAILER"


def test_lambdas_and_main_classes_by_value() -> None:
    serializer = PickleSerializer()
    fn = serializer.loads(serializer.dumps(lambda x: x * 2))
    assert fn(21) == 42
