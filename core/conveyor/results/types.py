"""The three kinds of result a state holds, and rebuilding them from their records.

Each has ``get()`` (the value), ``to_dict()`` and ``json()`` (what the metadata
database holds):

- :class:`ResultLiteral`: exactly ``True``, ``False`` or ``None``, kept inline in the
  database; no storage is touched.
- :class:`ResultReference`: a value persisted to a storage block. The database holds
  where it is (storage, key), how to read it (serializer configuration, format version)
  and how to check it (checksum: BLAKE3, sha256 in older references; size), never the value itself (the stored
  object is exactly the serializer's bytes, so this is its only description); with a signing key set, also an
  HMAC over all of that (:mod:`.signing`), checked before anything is read.
- :class:`UnpersistedResult`: a value passed in memory only. Rebuilt from the database
  in another process, its ``get()`` raises :class:`MissingResult`.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from conveyor.exceptions import ConfigurationError, MissingResult, ResultNotFoundError
from conveyor.results.digests import is_checksum
from conveyor.results.layout import (
    CURRENT_FORMAT,
    FRAMED_FORMAT,
    KNOWN_FORMATS,
)
from conveyor.results.signing import check_signature
from conveyor.settings import signatures_required

if TYPE_CHECKING:
    from conveyor.filesystems import StorageBlock

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
    if not is_checksum(value):
        raise ValueError(
            f"checksum must look like 'blake3:<hex>' (or 'sha256:<hex>' in older references); "
            f"got {value!r}"
        )


def _check_format(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or value not in KNOWN_FORMATS:
        raise ValueError(
            f"format must be one of {', '.join(map(str, KNOWN_FORMATS))}; got {value!r} "
            f"(written by a newer conveyor? upgrade conveyor to read it)"
        )


@attrs.frozen
class ResultReference:
    """Where a persisted value lives and how to read and check it.

    :param key: the key in storage.
    :param storage: slug of a saved block (``"s3/prod"``) or ``"anonymous/<document id>"``.
    :param storage_document: id of the block's configuration in the metadata store, so the
        exact block can be rebuilt even if the saved block is later deleted.
    :param serializer: the serializer's ``to_dict()``.
    :param checksum: ``"blake3:<hex>"`` of the payload (``"sha256:<hex>"`` in references
        made before BLAKE3; both are verified, see :mod:`conveyor.results.digests`).
    :param size: payload size in bytes.
    :param format: how the object is laid out: ``2`` (the default, every new result):
        exactly the serializer's bytes; ``1``: conveyor's framed layout of older
        versions (header, payload, trailer), the format of a record without the field.
    :param signature: ``"v1:<key id>:<hmac>"`` over all of the above (see
        :mod:`conveyor.results.signing`), or None when it was written without a key.
    """

    type: ClassVar[str] = "reference"

    key: str
    storage: str
    storage_document: str
    serializer: dict[str, Any] = attrs.field(hash=False)
    checksum: str = attrs.field(validator=_check_checksum)
    size: int = attrs.field(validator=_check_size)
    format: int = attrs.field(default=CURRENT_FORMAT, validator=_check_format)
    signature: str | None = attrs.field(default=None, eq=False, hash=False, repr=False)
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

    def verify_signature(self) -> None:
        """Refuse (:class:`~conveyor.exceptions.SignatureError`) this reference when it is
        unsigned where signatures are required, or its signature does not match. Every
        read calls it first, before storage or a deserializer is touched."""
        if self.signature is None and not signatures_required():
            return  # the common case, without building the fields to check
        check_signature(self.to_dict(), self.signature, self.where())

    def resolve_storage(self) -> StorageBlock:
        """The block holding the value: the saved block by slug, else the recorded document.

        The signature is checked first (:meth:`verify_signature`)."""
        from conveyor.results.storage import resolve_reference_storage  # lazy: only a read needs storage

        self.verify_signature()
        return resolve_reference_storage(self.storage, self.storage_document)

    def _read(self) -> Any:
        from conveyor.results.read import read_result  # lazy: runs that read nothing never import it
        from conveyor.results.storage import deleted_error  # lazy: as above

        storage = self.resolve_storage()
        try:
            return read_result(
                storage,
                self.key,
                serializer=self.serializer,
                checksum=self.checksum,
                size=self.size,
                label=self.storage,
                format=self.format,
            )
        except ResultNotFoundError:
            deleted = deleted_error(self.storage, self.storage_document, self.key, self.checksum)
            if deleted is None:
                raise
            raise deleted from None

    # -- the record ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "key": self.key,
            "storage": self.storage,
            "storage_document": self.storage_document,
            "serializer": dict(self.serializer),
            "checksum": self.checksum,
            "size": self.size,
        }
        if self.format != FRAMED_FORMAT:  # a format-1 record has no field (as it was written)
            out["format"] = self.format
        if self.signature is not None:
            out["signature"] = self.signature
        return out

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
        signature = data.get("signature")
        if signature is not None and not isinstance(signature, str):
            raise ConfigurationError(
                f"result reference {data!r:.200} has a signature that is not a string; the "
                f"record is damaged"
            )
        fmt = data.get("format", FRAMED_FORMAT)
        try:
            return cls(**{f: data[f] for f in fields}, format=fmt, signature=signature)
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
