"""Results: what a state holds about the value of a task run or flow run.

Three kinds, each with ``get()`` (the value), ``to_dict()`` and ``json()`` (what the
metadata database holds):

- :class:`ResultLiteral`: exactly ``True``, ``False`` or ``None``, kept inline in the
  database; no storage is touched.
- :class:`ResultReference`: a value persisted to a storage block. The database holds
  where it is (storage, key), how to read it (serializer configuration) and how to check
  it (sha256 checksum, size), never the value itself.
- :class:`UnpersistedResult`: a value passed in memory only. Rebuilt from the database
  in another process, its ``get()`` raises :class:`MissingResult`.

:func:`persist_value` writes a value in conveyor's stored format
(:mod:`conveyor.resultformat`) and returns its reference.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import attrs

from conveyor import resultformat
from conveyor.exceptions import (
    ConfigurationError,
    ConveyorError,
    CorruptResultError,
    MissingResult,
    ResultNotFoundError,
    SerializationError,
    StorageError,
    UnknownNameError,
)
from conveyor.filesystems import StorageBlock, block_from_dict, normalize_key
from conveyor.serializers import Serializer, serializer_from_dict

ANONYMOUS_PREFIX = "anonymous/"

_LITERAL_JSON = {True: "true", False: "false", None: "null"}
_JSON_LITERAL = {"true": True, "false": False, "null": None}


def is_literal(value: object) -> bool:
    """Whether ``value`` is exactly ``True``, ``False`` or ``None`` (by identity: not 1 or 0)."""
    return value is True or value is False or value is None


def _compact(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


# -- literals ---------------------------------------------------------------------------


def _check_literal(_instance: object, _attribute: object, value: bool | None) -> None:
    if not is_literal(value):
        raise TypeError(
            f"ResultLiteral holds only True, False or None; got {type(value).__name__} "
            f"{value!r:.80}; persist other values with persist_value() instead"
        )


@attrs.frozen
class ResultLiteral:
    """``True``, ``False`` or ``None``, stored inline in the metadata database."""

    type: ClassVar[str] = "result"

    value: bool | None = attrs.field(validator=_check_literal)

    def get(self) -> bool | None:
        return self.value

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "result", "value": "null"}``: the value as its JSON text."""
        return {"type": self.type, "value": _LITERAL_JSON[self.value]}

    def json(self) -> str:
        return _compact(self.to_dict())


# -- in memory only ---------------------------------------------------------------------


class _NotHere:
    """The value of an UnpersistedResult read back from the database: not in this process."""

    def __repr__(self) -> str:
        return "<not in this process>"

    def __reduce__(self) -> str:
        return "_NOT_HERE"  # stays the one sentinel through pickling and copying


_NOT_HERE = _NotHere()

MISSING_MESSAGE = (
    "this result was passed in memory only and was not persisted, so it is not available "
    "outside the process that ran it; to keep results, set persist_result=True on the task "
    "or flow (or give it result_storage / result_serializer), or set "
    "CONVEYOR_RESULTS_PERSIST_BY_DEFAULT=true"
)


@attrs.frozen(eq=False)
class UnpersistedResult:
    """A value kept in memory only; ``get()`` works only in the process that made it."""

    type: ClassVar[str] = "unpersisted"

    value: Any = attrs.field(default=_NOT_HERE, repr=False)

    @classmethod
    def missing(cls) -> UnpersistedResult:
        """The form read back from the database: the value is not here."""
        return cls()

    @property
    def available(self) -> bool:
        return self.value is not _NOT_HERE

    def get(self) -> Any:
        if self.value is _NOT_HERE:
            raise MissingResult(MISSING_MESSAGE)
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}

    def json(self) -> str:
        return _compact(self.to_dict())


# -- references -------------------------------------------------------------------------


class _ValueCache:
    """The value a reference has read or written, guarded for the engine's thread pool.

    ``slot`` is ``None`` or a 1-tuple holding the value, replaced as a whole, so a reader
    without the lock sees either no value or the whole one (never a half-update). The
    lock makes concurrent first reads read storage once.
    """

    __slots__ = ("lock", "slot")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slot: tuple[Any] | None = None

    def __reduce__(self) -> tuple[type[_ValueCache], tuple[()]]:
        # A copied or pickled reference starts with an empty cache (a lock cannot travel).
        return (_ValueCache, ())


def _check_size(_instance: object, _attribute: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"size must be a byte count (an int >= 0); got {value!r}")


def _check_checksum(_instance: object, _attribute: object, value: str) -> None:
    if not (isinstance(value, str) and value.startswith(resultformat.CHECKSUM_PREFIX)):
        raise ValueError(f"checksum must look like 'sha256:<hex>'; got {value!r}")


@attrs.frozen
class ResultReference:
    """Where a persisted value lives and how to read and check it.

    :param key: the key in storage.
    :param storage: slug of a saved block (``"s3/prod"``) or ``"anonymous/<document id>"``.
    :param storage_document: id of the block's configuration in the metadata store, so the
        exact block can be rebuilt even if the saved block is later deleted.
    :param serializer: the serializer's ``to_dict()``.
    :param checksum: ``"sha256:<hex>"`` of the payload.
    :param size: payload size in bytes.
    """

    type: ClassVar[str] = "reference"

    key: str
    storage: str
    storage_document: str
    serializer: dict[str, Any] = attrs.field(hash=False)
    checksum: str = attrs.field(validator=_check_checksum)
    size: int = attrs.field(validator=_check_size)
    _cache: _ValueCache = attrs.field(
        factory=_ValueCache, init=False, eq=False, repr=False, hash=False
    )

    # -- the value -------------------------------------------------------------------

    def get(self) -> Any:
        """The value: read once from storage, verified, deserialized, then cached."""
        cache = self._cache
        slot = cache.slot
        if slot is not None:
            return slot[0]
        with cache.lock:
            if cache.slot is None:
                cache.slot = (self._read(),)
            return cache.slot[0]

    @property
    def is_cached(self) -> bool:
        return self._cache.slot is not None

    def cache_value(self, value: Any) -> None:
        """Remember ``value`` as this reference's value (the writer already has it)."""
        self._cache.slot = (value,)

    def forget(self) -> None:
        """Drop the cached value; the next ``get()`` reads storage again."""
        self._cache.slot = None

    def where(self) -> str:
        return f"result {self.key!r} in storage {self.storage!r}"

    def resolve_storage(self) -> StorageBlock:
        """The block holding the value: the saved block by slug, else the recorded document."""
        return resolve_reference_storage(self.storage, self.storage_document)

    def _read(self) -> Any:
        storage = self.resolve_storage()
        return read_result(
            storage,
            self.key,
            serializer=self.serializer,
            checksum=self.checksum,
            size=self.size,
            label=self.storage,
        )

    # -- the record ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "key": self.key,
            "storage": self.storage,
            "storage_document": self.storage_document,
            "serializer": dict(self.serializer),
            "checksum": self.checksum,
            "size": self.size,
        }

    def json(self) -> str:
        return _compact(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultReference:
        fields = ("key", "storage", "storage_document", "serializer", "checksum", "size")
        missing = [f for f in fields if f not in data]
        if missing:
            raise ConfigurationError(
                f"result reference {data!r:.200} lacks {', '.join(missing)}; the record is "
                f"damaged or was written by another program"
            )
        try:
            return cls(**{f: data[f] for f in fields})
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"result reference {data!r:.200} is damaged: {exc}") from None


Result = ResultLiteral | ResultReference | UnpersistedResult


def result_from_dict(data: dict[str, Any]) -> Result:
    """Rebuild a result from its ``to_dict()`` (as kept in the metadata database)."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == ResultLiteral.type:
        text = data.get("value")
        if text not in _JSON_LITERAL:
            raise ConfigurationError(
                f"literal result {data!r} holds {text!r}; only 'true', 'false' and 'null' exist"
            )
        return ResultLiteral(_JSON_LITERAL[text])
    if kind == ResultReference.type:
        return ResultReference.from_dict(data)
    if kind == UnpersistedResult.type:
        return UnpersistedResult.missing()
    raise ConfigurationError(
        f"unknown result record {data!r:.200}; expected type 'result', 'reference' or "
        f"'unpersisted' (written by a newer conveyor?)"
    )


def result_from_json(text: str | bytes) -> Result:
    """:func:`result_from_dict` of a JSON string."""
    return result_from_dict(json.loads(text))


# -- storage resolution -----------------------------------------------------------------


def resolve_reference_storage(storage: str, storage_document: str | None) -> StorageBlock:
    """Rebuild the block a reference names.

    A saved slug is loaded as saved now (it may hold rotated credentials); when it is
    gone, or the storage is anonymous, the configuration document recorded at write
    time is used.
    """
    from conveyor.store import get_store

    slug_error: Exception | None = None
    if not storage.startswith(ANONYMOUS_PREFIX):
        from conveyor.blocks import load_block

        try:
            return load_block(storage)
        except (UnknownNameError, ConfigurationError) as exc:
            slug_error = exc
    if storage_document:
        try:
            block_type, config = get_store().get_block_document(storage_document)
            return block_from_dict({"block_type": block_type, **config})
        except UnknownNameError as exc:
            doc_error: Exception = exc
    else:
        doc_error = ConfigurationError("the reference records no block document")
    why = f"{slug_error}; " if slug_error else ""
    raise StorageError(
        f"cannot rebuild storage {storage!r}: {why}{doc_error}; the result was written with a "
        f"different CONVEYOR_HOME, or the block was removed (save it again under that name)"
    )


def record_storage(storage: StorageBlock) -> str:
    """Record ``storage``'s configuration in the store (once per distinct one); return its id."""
    from conveyor.store import get_store

    return get_store().put_block_document(storage.block_type, storage.config())


def _describe(storage: StorageBlock, key: str, label: str | None) -> str:
    try:
        shown = storage.describe(key)
    except Exception:  # noqa: BLE001 - a plugin's describe() must not hide the real error
        shown = f"{storage.block_type}:{key}"
    name = label or storage.block_type
    return f"result {key!r} in storage {name!r} ({shown})"


# -- writing ----------------------------------------------------------------------------


def write_result(
    storage: StorageBlock,
    key: str,
    value: Any,
    serializer: Serializer,
    *,
    label: str | None = None,
) -> tuple[str, int]:
    """Write ``value`` at ``key`` in conveyor's format, atomically; return (checksum, size).

    The serializer streams into the storage's ``open_write`` through a writer that hashes
    and counts; nothing appears under ``key`` unless the whole result was written.
    """
    where = _describe(storage, key, label)
    config = serializer.to_dict()

    def dump(writer: resultformat.HashingWriter) -> None:
        try:
            serializer.dump(value, writer)  # type: ignore[arg-type]
        except Exception as exc:
            if writer.error is not None:  # the storage failed under the serializer
                raise writer.error from None
            if isinstance(exc, SerializationError):
                raise SerializationError(f"cannot persist {where}: {exc}") from exc
            if isinstance(exc, ConveyorError):
                raise
            raise SerializationError(
                f"serializer {config.get('type')!r} could not serialize a "
                f"{type(value).__name__} for {where}: {type(exc).__name__}: {exc}; choose a "
                f"serializer that supports it (e.g. result_serializer='pickle')"
            ) from exc

    try:
        with storage.open_write(key) as target:
            checksum, size = resultformat.write_stream(target, config, dump)
    except ConveyorError:
        raise
    except Exception as exc:
        raise StorageError(
            f"could not write {where}: {type(exc).__name__}: {exc}; check that the storage "
            f"is reachable and writable"
        ) from exc
    return checksum, size


def persist_value(
    value: Any,
    *,
    storage: StorageBlock,
    serializer: Serializer,
    key: str | None = None,
    storage_slug: str | None = None,
) -> ResultReference:
    """Persist ``value`` and return its reference (with the value already cached on it).

    :param storage: the block to write to.
    :param serializer: turns the value into bytes (streamed with ``serializer.dump``).
    :param key: where in the storage; default a random hex id.
    :param storage_slug: the block's saved slug when it was given by slug; otherwise the
        reference names it ``"anonymous/<document id>"``.

    The block's configuration is recorded in the metadata store once per distinct
    configuration. Does not call the ``conveyor_result_persisted`` hook: the engine does,
    after recording the state.
    """
    key = normalize_key(key, block=storage) if key is not None else uuid.uuid4().hex
    document = record_storage(storage)
    label = storage_slug or f"{ANONYMOUS_PREFIX}{document}"
    checksum, size = write_result(storage, key, value, serializer, label=label)
    reference = ResultReference(
        key=key,
        storage=label,
        storage_document=document,
        serializer=serializer.to_dict(),
        checksum=checksum,
        size=size,
    )
    reference.cache_value(value)
    return reference


# -- reading ----------------------------------------------------------------------------


@contextlib.contextmanager
def open_payload(
    storage: StorageBlock,
    key: str,
    *,
    checksum: str | None = None,
    size: int | None = None,
    label: str | None = None,
) -> Iterator[resultformat.Payload]:
    """Open a stored result and verify it; yield its payload, positioned for reading.

    The digest is checked (against the trailer and, when given, ``checksum``) before
    the caller gets the payload. A missing key is ResultNotFoundError; damage is
    CorruptResultError; both name the storage and key.
    """
    where = _describe(storage, key, label)
    try:
        with storage.open_read(key) as source:
            payload, spool = resultformat.check_payload(
                source, where, expected_checksum=checksum, expected_size=size
            )
            try:
                yield payload
            finally:
                if spool is not None:
                    spool.close()
    except ResultNotFoundError as exc:
        raise ResultNotFoundError(
            f"{where} was not found: {exc}; it was deleted or never written (rerun to "
            f"write it again)"
        ) from exc
    except FileNotFoundError as exc:
        raise ResultNotFoundError(
            f"{where} was not found ({exc.strerror or exc}); it was deleted or never "
            f"written (rerun to write it again)"
        ) from exc
    except (ConveyorError, SerializationError):
        raise
    except OSError as exc:
        raise StorageError(f"could not read {where}: {type(exc).__name__}: {exc}") from exc


def read_result(
    storage: StorageBlock,
    key: str,
    *,
    serializer: dict[str, Any] | Serializer | None = None,
    checksum: str | None = None,
    size: int | None = None,
    label: str | None = None,
) -> Any:
    """Read, verify and deserialize the value at ``key``.

    ``serializer`` defaults to the one recorded in the file's header; ``checksum`` and
    ``size`` (from a reference) are checked when given, the file's own trailer always.
    """
    with open_payload(storage, key, checksum=checksum, size=size, label=label) as payload:
        chosen = serializer if serializer is not None else payload.header.get("serializer")
        if isinstance(chosen, Serializer):
            ser = chosen
        elif isinstance(chosen, dict):
            ser = serializer_from_dict(chosen)
        else:
            raise CorruptResultError(
                f"{_describe(storage, key, label)} records no serializer in its header"
            )
        try:
            return ser.load(payload.reader)
        except SerializationError as exc:
            raise SerializationError(
                f"cannot load {_describe(storage, key, label)} (its checksum matched): {exc}"
            ) from exc
        except ConveyorError:
            raise
        except Exception as exc:
            raise SerializationError(
                f"serializer {ser.type!r} could not read {_describe(storage, key, label)}: "
                f"{type(exc).__name__}: {exc}; the checksum matched, so the bytes are as "
                f"written: read it with the same serializer library and version"
            ) from exc


def read_result_file(storage: StorageBlock, key: str) -> Any:
    """The value stored at ``key``, read with the serializer recorded in its header."""
    return read_result(storage, key)


def read_result_header(storage: StorageBlock, key: str) -> dict[str, Any]:
    """The header of the result at ``key`` (serializer, created, conveyor), unverified."""
    where = _describe(storage, key, None)
    try:
        with storage.open_read(key) as source:
            header, _used = resultformat.read_header(source, where)
    except ResultNotFoundError as exc:
        raise ResultNotFoundError(f"{where} was not found: {exc}") from exc
    return header


# -- verification -----------------------------------------------------------------------


VerificationStatus = Literal["ok", "missing", "corrupt", "unreadable", "unavailable"]


@attrs.frozen
class Verification:
    """The outcome of :func:`verify`.

    :param ok: whether the result can be read back as recorded.
    :param status: ``"ok"``; ``"missing"`` (nothing at the key); ``"corrupt"`` (damaged,
        truncated, foreign, or another result at the key); ``"unreadable"`` (the storage
        could not be rebuilt or reached, or the record is damaged); ``"unavailable"`` (an
        unpersisted result: there is nothing to read).
    :param problem: one line saying what is wrong, naming storage and key; None when ok.
    :param checksum: the payload's digest as read (when it could be computed).
    :param size: the payload's size as read.
    """

    ok: bool
    status: VerificationStatus = "ok"
    problem: str | None = None
    checksum: str | None = None
    size: int | None = None

    def __bool__(self) -> bool:
        return self.ok


def verify(result: Result | dict[str, Any]) -> Verification:
    """Check a result without deserializing it.

    For a reference: the storage can be rebuilt, the key exists, the file is a complete
    conveyor result, and its payload hashes to the recorded checksum. Literals are
    always ok (they live in the database); an unpersisted result is ``"unavailable"``.
    """
    if isinstance(result, dict):
        try:
            result = result_from_dict(result)
        except ConfigurationError as exc:
            return Verification(ok=False, status="unreadable", problem=str(exc))
    if isinstance(result, ResultLiteral):
        return Verification(ok=True)
    if isinstance(result, UnpersistedResult):
        return Verification(ok=False, status="unavailable", problem=MISSING_MESSAGE)
    try:
        storage = result.resolve_storage()
        with open_payload(
            storage, result.key, checksum=result.checksum, size=result.size, label=result.storage
        ) as payload:
            return Verification(ok=True, checksum=payload.checksum, size=payload.trailer.size)
    except ResultNotFoundError as exc:
        return Verification(ok=False, status="missing", problem=str(exc))
    except CorruptResultError as exc:
        return Verification(ok=False, status="corrupt", problem=str(exc))
    except (StorageError, ConfigurationError, UnknownNameError) as exc:
        return Verification(ok=False, status="unreadable", problem=str(exc))


__all__ = [
    "CorruptResultError",
    "MissingResult",
    "Result",
    "ResultLiteral",
    "ResultNotFoundError",
    "ResultReference",
    "UnpersistedResult",
    "Verification",
    "is_literal",
    "persist_value",
    "read_result",
    "read_result_file",
    "read_result_header",
    "result_from_dict",
    "result_from_json",
    "verify",
    "write_result",
]
