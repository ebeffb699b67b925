"""Hypothesis: any simple value survives persist_value and a read through its record."""

from __future__ import annotations

import json
import sys
import tempfile

from conveyor.filesystems import LocalFileSystem
from conveyor.results import ResultReference, is_literal, persist_value, result_from_dict
from conveyor.serializers import JSONSerializer, PickleSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


_old_format = sys.modules["conveyor_tests_old_format"]  # loaded by tests/conftest.py

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=20,
)
pickle_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.complex_numbers(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.frozensets(st.integers() | st.text(), max_size=5)
        | st.dictionaries(st.text() | st.integers(), children, max_size=5)
    ),
    max_leaves=20,
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def round_trip(value: object, serializer: object, key: str | None) -> object:
    with tempfile.TemporaryDirectory() as folder:
        ref = persist_value(
            value, storage=LocalFileSystem(basepath=folder), serializer=serializer, key=key
        )  # type: ignore[arg-type]
        rebuilt = result_from_dict(json.loads(ref.json()))
        assert isinstance(rebuilt, ResultReference) and rebuilt == ref
        return rebuilt.get()


@SETTINGS
@given(value=json_values, jsonlib=st.sampled_from(["json", "orjson"]))
def test_json_round_trip(value, jsonlib):
    if jsonlib == "orjson" and _too_big_for_orjson(value):
        return
    assert round_trip(value, JSONSerializer(jsonlib=jsonlib), None) == value


@SETTINGS
@given(
    value=pickle_values,
    picklelib=st.sampled_from(["cloudpickle", "pickle"]),
    key=st.none() | st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9._-]{1,8}){0,2}", fullmatch=True),
)
def test_pickle_round_trip(value, picklelib, key):
    if key is not None and key.split("/")[-1] in (".", ".."):
        key = None
    assert round_trip(value, PickleSerializer(picklelib=picklelib), key) == value


@given(value=st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=2))
def test_is_literal_exactly_three_objects(value):
    assert is_literal(value) == (value is None or value is True or value is False)


def _too_big_for_orjson(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not (-(2**63) <= value < 2**64)
    if isinstance(value, list):
        return any(_too_big_for_orjson(v) for v in value)
    if isinstance(value, dict):
        return any(_too_big_for_orjson(v) for v in value.values())
    return False


class _Trickle:
    """A non-seekable source giving at most ``step`` bytes per read."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        n = self._step if n < 0 else min(n, self._step)
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(st.binary(max_size=300), max_size=8),
    threshold=st.sampled_from([1, 64, 1 << 30]),
    step=st.integers(min_value=1, max_value=400),
    seekable=st.booleans(),
    flip=st.none() | st.integers(min_value=0),
    framed=st.booleans(),
    given_format=st.booleans(),
)
def test_byte_format_round_trip_and_no_flip_passes_silently(
    pieces, threshold, step, seekable, flip, framed, given_format
):
    """Round trip of a plain result (format 2, exactly the payload) and of an old framed
    one (format 1); a flipped bit is caught, unless it falls in an old result's
    (descriptive) header JSON and leaves it valid, in which case the payload read is
    still exactly right. A plain result has no such place: every flip is caught."""
    import hashlib
    import io

    import pytest
    from conveyor.exceptions import CorruptResultError
    from conveyor.results.hashing import HashingWriter, write_stream
    from conveyor.results.layout import PREFIX_SIZE
    from conveyor.results.payload import check_payload

    out = io.BytesIO()

    def dump(writer: HashingWriter) -> None:
        writer._threshold = threshold
        for piece in pieces:
            writer.write(piece)

    checksum, size = write_stream(out, dump)
    payload = b"".join(pieces)
    assert out.getvalue() == payload  # nothing but the serializer's bytes
    raw = bytearray(_old_format.framed(payload, {"type": "t"}) if framed else payload)
    if framed:  # an old framed result's reference has its trailer's sha256
        checksum = "sha256:" + hashlib.sha256(payload).hexdigest()
    header_end = PREFIX_SIZE + int.from_bytes(raw[9:13], "big") if framed else 0
    if flip is not None and raw:
        flip %= len(raw)
        raw[flip] ^= 0x01
    elif flip is not None:
        flip = None  # nothing to flip in an empty payload
    source = io.BytesIO(bytes(raw)) if seekable else _Trickle(bytes(raw), step)
    try:
        checked, spool = check_payload(
            source,  # type: ignore[arg-type]
            "t",
            expected_checksum=checksum,
            expected_size=size,
            spool_max_memory=100,
            format=(1 if framed else 2) if given_format else None,
        )
    except CorruptResultError:
        assert flip is not None
        return
    try:
        assert checked.reader.read() == payload and size == len(payload)
        assert flip is None or (framed and PREFIX_SIZE <= flip < header_end)
    finally:
        if spool is not None:
            spool.close()
    if flip is None and framed:
        with pytest.raises(CorruptResultError):  # the trailer alone also guards the payload
            bad = bytearray(raw)
            bad[-40] ^= 0x80
            check_payload(io.BytesIO(bytes(bad)), "t")
