"""``JSONSerializer``: readable JSON that gives back exactly the value that went in.

See :mod:`conveyor_serializer_json.codec` for how values map to JSON. The JSON text is
written by the standard ``json`` module or by ``orjson`` (the fast path); both write and
read the same JSON data, so either can read what the other wrote.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

import attrs
from conveyor.exceptions import ConfigurationError, SerializationError
from conveyor.serializers import Serializer, import_path_field

from conveyor_serializer_json import classes
from conveyor_serializer_json.codec import MARKER, count_none, plain_levels

if TYPE_CHECKING:
    from conveyor_serializer_json.decoder import Decoder
    from conveyor_serializer_json.encoder import Encoder

#: Every tag, and every user dict holding the marker key, puts these bytes in the JSON
#: (both libraries write "$" as it is); where they are absent, no decoding walk is needed.
_TAG_BYTES = json.dumps(MARKER).encode()

#: Digits to "0", everything else to " ": an int beyond 64 bits (which both libraries
#: must tag, so that orjson reads what json wrote) is a run of at least 19 digits (-2**63 - 1 has 19), and no
#: float's repr has one.
_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_NUMBER = b"0" * 19

#: A top-level list longer than this is written and proven chunk by chunk, each chunk
#: checked while the library's pass has left it in the CPU cache.
_CHUNK = 2048

#: Supported values of ``jsonlib``.
JSONLIBS = ("json", "orjson")


def _check_jsonlib(_instance: Any, _attribute: Any, value: Any) -> None:
    if value not in JSONLIBS:
        raise ConfigurationError(
            f"JSONSerializer: jsonlib {value!r} is not supported; use one of: {', '.join(JSONLIBS)}"
        )
    if value == "orjson":
        try:
            import orjson  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                f"JSONSerializer: jsonlib 'orjson' cannot be imported ({exc}); "
                f"pip install orjson, or use jsonlib='json'"
            ) from exc


def _check_hook(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if value is None:
        return
    if callable(value) and not isinstance(value, str):
        name = getattr(value, "__qualname__", None)
        suggestion = f"{value.__module__}:{name}" if name else "package.module:function"
        raise ConfigurationError(
            f"JSONSerializer: {attribute.name} must be the import path of a function as a "
            f"string, so the configuration stays JSON; got {value!r}, use {suggestion!r}"
        )
    if not isinstance(value, str):
        raise ConfigurationError(
            f"JSONSerializer: {attribute.name} must be an import path such as "
            f"'package.module:function'; got {type(value).__name__} {value!r}"
        )
    _function(attribute.name, value)


def _function(option: str, path: str) -> Callable[[Any], Any]:
    try:
        fn = classes.find(path)
    except LookupError as exc:
        raise ConfigurationError(
            f"JSONSerializer: {option}={path!r} cannot be found: {exc}; give an importable "
            f"path such as 'package.module:function'"
        ) from None
    if not callable(fn):
        raise ConfigurationError(f"JSONSerializer: {option}={path!r} is not callable")
    return fn  # type: ignore[no-any-return]


@functools.cache
def _json_encoder() -> json.JSONEncoder:
    return json.JSONEncoder(
        ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":")
    )


@attrs.frozen
class JSONSerializer(Serializer):
    """Encode values as JSON with ``jsonlib`` (``"json"`` or ``"orjson"``).

    :param jsonlib: ``"json"`` (standard library, default) or ``"orjson"`` (faster).
    :param object_encoder: import path (``"package.module:function"``) of a function
        called for values the serializer does not support itself; it returns something
        that it does support, or ``NotImplemented`` to decline.
    :param object_decoder: import path of the function that turns what
        ``object_encoder`` returned back into the value.

    Both are import paths, not functions, so the configuration stays JSON. Read back from
    a record (a reference, a file's header), they must be on conveyor's allow-list
    (:func:`conveyor.serializers.allow_imports`): a record never chooses code to run.
    """

    type: ClassVar[str] = "json"
    extension: ClassVar[str] = ".json"

    jsonlib: str = attrs.field(default="json", validator=_check_jsonlib)
    object_encoder: str | None = import_path_field(default=None, validator=_check_hook)
    object_decoder: str | None = import_path_field(default=None, validator=_check_hook)

    def _encoder(self, check_strings: bool = False) -> Encoder:
        from conveyor_serializer_json.encoder import Encoder  # lazy: datetime, zoneinfo, decimal... only for tagged values

        hook = _function("object_encoder", self.object_encoder) if self.object_encoder else None
        return Encoder(hook, check_strings)

    def _decoder(self) -> Decoder:
        from conveyor_serializer_json.decoder import Decoder  # lazy: only for tagged values

        hook = _function("object_decoder", self.object_decoder) if self.object_decoder else None
        return Decoder(hook)

    def dumps(self, obj: Any) -> bytes:
        parts = self._proven_parts(obj)
        if parts is not None and parts is not _NOT_PROVEN:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        return self._dumps_exact(obj, parts is _NOT_PROVEN)

    def dump(self, obj: Any, file: BinaryIO) -> None:
        parts = self._proven_parts(obj)
        if parts is None or parts is _NOT_PROVEN:
            file.write(self._dumps_exact(obj, parts is _NOT_PROVEN))
            return
        for part in parts:  # noqa: FURB122 - a file object may have only write()
            file.write(part)  # a long list's chunks as they are: no joined copy

    def _dumps_exact(self, obj: Any, try_plain: bool) -> bytes:
        fast = self._dumps_plain(obj) if try_plain else None
        if fast is not None:
            return fast
        data = self._encoder().encode(obj)
        try:
            return self._write(data)
        except (UnicodeEncodeError, TypeError, ValueError) as exc:
            if not _surrogates(exc):
                raise SerializationError(
                    f"cannot write the value as JSON with {self.jsonlib}: {exc}"
                ) from exc
        # Some str holds lone surrogates (not encodable as UTF-8): walk again, tagging them.
        return self._write(self._encoder(check_strings=True).encode(obj))

    def _proven_parts(self, obj: Any) -> Any:
        """The fastest path (:func:`.plain.proven_parts`): the library writes the value,
        a cheap walk proves it was plain JSON data; the bytes come as parts to join or
        write in turn. :data:`_NOT_PROVEN` when the proof fails (the plain-data path
        decides); ``None`` when only the Encoder can write the value."""
        try:
            from conveyor_serializer_json import plain  # lazy: imports orjson (60 ms cold)
        except ImportError:  # orjson missing: the plain-data path's checks only
            return _NOT_PROVEN
        if self.jsonlib == "json":
            encoder = _json_encoder().encode

            def encode(value: Any) -> bytes:
                return encoder(value).encode("utf-8")
        else:
            import orjson  # lazy: only for jsonlib="orjson"

            def encode(value: Any, dumps: Any = orjson.dumps, guard: int = plain.ORJSON_GUARD) -> bytes:
                return dumps(value, option=guard)

        parts = plain.proven_parts(obj, self.jsonlib == "json", encode, _CHUNK, _TAG_BYTES)
        if parts is None:
            return _NOT_PROVEN
        return None if parts is plain.REFUSED else parts

    def _dumps_plain(self, obj: Any) -> bytes | None:
        """The fast path: a value made only of JSON's own types goes to the library as it
        is (encoded once), and the written bytes are checked for what the type check
        cannot see. ``None`` when the value needs the Encoder (the slow, exact path)."""
        stdlib = self.jsonlib == "json"
        levels = plain_levels(obj, str_keys=stdlib)
        if levels is None:
            return None
        try:
            if stdlib:  # refuses nan/infinity (allow_nan=False); keys were checked above
                out = _json_encoder().encode(obj).encode("utf-8")
            else:  # refuses non-str keys, ints beyond 64 bits and lone surrogates
                import orjson

                out = orjson.dumps(obj)
        except (TypeError, ValueError):  # UnicodeEncodeError (a lone surrogate) included
            return None
        if _TAG_BYTES in out:  # a user's dict with the marker key: it must be escaped
            return None
        if stdlib and out.translate(_DIGITS).find(_LONG_NUMBER) >= 0:
            return None  # maybe an int beyond 64 bits (or a long digit run in a string)
        # orjson writes nan and infinity as null: every null must be a None.
        if not stdlib and b"null" in out and out.count(b"null") != count_none(levels):
            return None
        return out

    def _write(self, data: Any) -> bytes:
        if self.jsonlib == "orjson":
            import orjson

            return orjson.dumps(data)
        return _json_encoder().encode(data).encode("utf-8")

    def loads(self, data: bytes) -> Any:
        try:
            if not isinstance(data, (bytes, bytearray)):
                data = bytes(data)
            if self.jsonlib == "orjson":
                import orjson

                parsed = orjson.loads(data)
            else:
                parsed = json.loads(data)
        except ValueError as exc:
            raise SerializationError(
                f"cannot read the result as JSON with {self.jsonlib}: {exc}; the data was "
                f"not written by JSONSerializer"
            ) from exc
        if _TAG_BYTES not in data:
            return parsed  # no tag anywhere: the parsed JSON is the value
        return self._decoder().decode(parsed)


#: What :meth:`JSONSerializer._proven_parts` returns when its proof fails.
_NOT_PROVEN: Any = object()


def _surrogates(exc: BaseException) -> bool:
    return isinstance(exc, UnicodeEncodeError) or "surrogates" in str(exc)
