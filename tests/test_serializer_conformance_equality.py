"""The serializer conformance suite compares round trips through an overridable equality.

A serializer of numpy arrays cannot pass with the default, strict ``assert_same``: an
array answers ``==`` with another array, which has no single truth value. With
``assert_equal`` overridden to use ``numpy.array_equal`` it runs the whole suite.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from conveyor import hookimpl, plugins
from conveyor.exceptions import SerializationError
from conveyor.serializers import Serializer
from conveyor.testing.serializers import SerializerConformance, assert_same
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@attrs.frozen
class NpySerializer(Serializer):
    """numpy arrays in the ``.npy`` format (``numpy.save``), never through pickle."""

    type: ClassVar[str] = "test-npy"

    def dumps(self, obj: Any) -> bytes:
        if not isinstance(obj, np.ndarray):
            raise SerializationError(f"test-npy stores numpy arrays, not {type(obj).__name__}")
        buffer = io.BytesIO()
        try:
            np.save(buffer, obj, allow_pickle=False)
        except ValueError as exc:  # object arrays would need pickle
            raise SerializationError(f"test-npy cannot store this array: {exc}") from exc
        return buffer.getvalue()

    def loads(self, data: bytes) -> Any:
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise SerializationError(f"not a .npy payload: {exc}") from exc


class _NpyPlugin:
    @hookimpl
    def conveyor_register_serializers(self) -> list[type[Serializer]]:
        return [NpySerializer]


@pytest.fixture
def with_npy() -> Iterator[object]:
    pm = plugins.make_plugin_manager(plugins=[_NpyPlugin()])
    with plugins.use_plugin_manager(pm):
        yield pm


DTYPES = st.sampled_from(
    [np.dtype(t) for t in ("int64", "float64", "bool", "uint8", "complex128", "<U3")]
)


def arrays(min_side: int = 0) -> st.SearchStrategy[np.ndarray]:
    shapes = hnp.array_shapes(min_dims=1 if min_side else 0, max_dims=3, min_side=min_side, max_side=4)
    return DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, shapes))


def arrays_equal(actual: Any, expected: Any) -> None:
    """The equality a numpy serializer wants: type, dtype, shape, then numpy.array_equal."""
    assert type(actual) is type(expected), (type(actual), type(expected))
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert np.array_equal(actual, expected, equal_nan=expected.dtype.kind in "fc"), (
        actual,
        expected,
    )


class TestNumpyArraysConformance(SerializerConformance):
    """The whole suite, for arrays: only the equality is the serializer's own."""

    values = arrays()
    unsupported = (np.array([object()], dtype=object), [1, 2], "text")

    @pytest.fixture
    def serializer(self, with_npy: object) -> Serializer:
        return NpySerializer()

    def assert_equal(self, actual: Any, expected: Any) -> None:
        arrays_equal(actual, expected)


class _DefaultEquality(SerializerConformance):
    """The same serializer with the suite's default equality (not collected: no Test prefix)."""

    values = arrays(min_side=2)  # at least two elements: == gives no single truth value


def test_the_default_equality_fails_for_arrays_through_the_bool_of_eq(with_npy: object) -> None:
    suite = _DefaultEquality()
    array = np.arange(6).reshape(2, 3)
    with pytest.raises(AssertionError, match="cannot be compared with ==") as info:
        suite.assert_equal(array, array.copy())
    assert isinstance(info.value.__cause__, ValueError)  # numpy: truth value is ambiguous
    assert "override SerializerConformance.assert_equal" in str(info.value)
    assert "\n" not in str(info.value)
    # So the suite's own round-trip test fails for this serializer with the default...
    with pytest.raises(AssertionError, match="cannot be compared with =="):
        suite.test_dumps_loads_round_trip(NpySerializer())  # type: ignore[call-arg]
    # ...and passes with the array equality.
    TestNumpyArraysConformance().test_dumps_loads_round_trip(NpySerializer())  # type: ignore[call-arg]


def test_the_array_equality_still_tells_different_arrays_apart() -> None:
    base = np.array([[1.0, np.nan], [3.0, 4.0]])
    arrays_equal(base, base.copy())  # nan equal to nan, as in assert_same
    for different in (
        base + 1,
        base.astype("float32"),
        base.reshape(4),
        base.tolist(),
    ):
        with pytest.raises(AssertionError):
            arrays_equal(different, base)


def test_assert_same_still_compares_plain_values_strictly() -> None:
    assert_same({"a": [1, 2.0]}, {"a": [1, 2.0]})
    with pytest.raises(AssertionError, match="type float != int"):
        assert_same({"a": [1.0]}, {"a": [1]})
    with pytest.raises(AssertionError, match=r"value\['a'\]\[0\]: 2 != 1"):
        assert_same({"a": [2]}, {"a": [1]})
