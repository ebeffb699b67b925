"""The mapping between Python values and plain JSON data, exact both ways.

Values JSON holds natively are written as themselves: ``None``, ``bool``, ``int`` in the
64-bit range, finite ``float``, ``str``, ``list``, and ``dict`` with ``str`` keys. Every
other supported value becomes a *tagged object*, a JSON object whose first key is
:data:`MARKER`::

    {"$conveyor": "tuple", "v": [1, 2]}
    {"$conveyor": "datetime", "v": "2024-05-01T12:00:00+02:00", "tz": {"$conveyor": "zoneinfo", "key": "Europe/Paris"}}

A user's dict that has :data:`MARKER` among its keys (or any non-``str`` key) is written
as a ``"dict"`` tag holding its items as ``[key, value]`` pairs, so no user data is ever
read back as a tag.

Encoding walks the value once, copying a container only when one of its items has to
change; decoding walks the parsed JSON once, replacing tags in place.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import gc
import math
import operator
import pathlib
import sys
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import attrs
from conveyor.exceptions import SerializationError

from conveyor_serializer_json import classes

#: The key that marks a JSON object as a tagged value.
MARKER = "$conveyor"

_INT_MIN = -(1 << 63)  # orjson reads and writes ints from -2**63 ...
_INT_MAX = (1 << 64) - 1  # ... to 2**64 - 1; beyond that they are tagged
_PATHS = {
    c.__name__: c
    for c in (pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePosixPath, pathlib.PureWindowsPath)
}
_SUPPORTED = (
    "None, bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset, complex, "
    "datetime, date, time, timedelta, timezone, ZoneInfo, Decimal, UUID, Path, Enum members, "
    "dataclasses, attrs classes, pydantic models"
)


class _Unsupported(Exception):
    """Raised inside the walk; collects the path on its way out."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _key_text(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 40 else text[:37] + "..."


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _pydantic_model(obj: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(obj, pydantic.BaseModel)


_PLAIN_TYPES = frozenset({dict, list, str, int, float, bool, type(None)})
_MAX_DEPTH = 1000


def plain_levels(obj: Any) -> list[list[Any]] | None:
    """The value's objects level by level, if it is made only of JSON's own types.

    JSON's own types are, exactly: ``dict``, ``list``, ``str``, ``int``, ``float``,
    ``bool`` and ``None``. Returns ``None`` as soon as any other type appears (a
    ``tuple``, an ``Enum``, a ``datetime``, a subclass...), or when the nesting goes
    deeper than any JSON library writes (a reference cycle). The walk is done by C code
    (``gc.get_referents`` hands over the items of every container of a level at once),
    so checking a large value costs a fraction of encoding it in Python.

    What this does not check is left to the caller: dict keys (orjson refuses non-str
    keys, ints beyond 64 bits and lone surrogates by itself), the :data:`MARKER` key and
    nan/infinity (both visible in the written bytes, see ``JSONSerializer.dumps``).
    """
    level = [obj]
    levels: list[list[Any]] = []
    allowed = _PLAIN_TYPES
    referents = gc.get_referents
    while level:
        if not allowed.issuperset(map(type, level)) or len(levels) > _MAX_DEPTH:
            return None
        levels.append(level)
        level = referents(*level)
    return levels


def count_none(levels: list[list[Any]]) -> int:
    """How many ``None`` the value holds (each written as ``null``)."""
    return sum(operator.countOf(level, None) for level in levels)


class Encoder:
    """Turns a value into plain JSON data (only dict, list, str, int, float, bool, None)."""

    def __init__(self, object_encoder: Callable[[Any], Any] | None, check_strings: bool) -> None:
        self.object_encoder = object_encoder
        self.check_strings = check_strings
        self._tagged: dict[type, Callable[[Any], Any]] = {
            tuple: self._tuple,
            set: self._set,
            frozenset: self._set,
            bytes: self._bytes,
            bytearray: self._bytes,
            complex: self._complex,
            dt.datetime: self._datetime,
            dt.date: lambda o: {MARKER: "date", "v": o.isoformat()},
            dt.time: self._time,
            dt.timedelta: lambda o: {MARKER: "timedelta", "v": [o.days, o.seconds, o.microseconds]},
            dt.timezone: self._tz,
            zoneinfo.ZoneInfo: self._tz,
            decimal.Decimal: lambda o: {MARKER: "decimal", "v": str(o)},
            uuid.UUID: lambda o: {MARKER: "uuid", "v": str(o)},
        }
        for path_cls in _PATHS.values():
            self._tagged[path_cls] = lambda o: {MARKER: "path", "cls": type(o).__name__, "v": str(o)}

    def encode(self, obj: Any) -> Any:
        """Plain JSON data for ``obj``; raises SerializationError naming path and type."""
        try:
            return self._enc(obj)
        except _Unsupported as exc:
            where = "value" + "".join(reversed(exc.path))
            raise SerializationError(f"cannot write {where} as JSON: {exc.message}") from None
        except RecursionError:
            raise SerializationError(
                "cannot write the value as JSON: it is nested too deeply or contains itself "
                "(a reference cycle); use result_serializer='pickle' for such values"
            ) from None

    # -- the walk ---------------------------------------------------------------------

    def _enc(self, obj: Any) -> Any:
        t = type(obj)
        if t is str:
            if self.check_strings:
                try:
                    obj.encode("utf-8")
                except UnicodeEncodeError:
                    return {MARKER: "str", "v": obj.encode("unicode_escape").decode("ascii")}
            return obj
        if t is int:
            if _INT_MIN <= obj <= _INT_MAX:
                return obj
            try:
                text = str(obj)
            except ValueError:  # more digits than int/str conversion allows
                text = hex(obj)
            return {MARKER: "int", "v": text}
        if t is float:
            if obj - obj == 0.0:  # finite
                return obj
            return {MARKER: "float", "v": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
        if t is bool or obj is None:
            return obj
        if t is dict:
            return self._dict(obj)
        if t is list:
            return self._list(obj)
        handler = self._tagged.get(t)
        if handler is not None:
            return handler(obj)
        return self._object(obj)

    def _dict(self, obj: dict[Any, Any]) -> Any:
        out = None
        enc = self._enc
        for key, value in obj.items():
            if type(key) is not str or key == MARKER:
                return self._pairs(obj)
            try:
                new = enc(value)
            except _Unsupported as exc:
                exc.path.append(f"[{_key_text(key)}]")
                raise
            if new is not value:
                if out is None:
                    out = dict(obj)
                out[key] = new
        return obj if out is None else out

    def _pairs(self, obj: dict[Any, Any]) -> Any:
        pairs = []
        for key, value in obj.items():
            try:
                k = self._enc(key)
            except _Unsupported as exc:
                exc.path.append(f" (key {_key_text(key)})")
                raise
            try:
                v = self._enc(value)
            except _Unsupported as exc:
                exc.path.append(f"[{_key_text(key)}]")
                raise
            pairs.append([k, v])
        return {MARKER: "dict", "v": pairs}

    def _list(self, obj: list[Any]) -> Any:
        out = None
        enc = self._enc
        for index, value in enumerate(obj):
            try:
                new = enc(value)
            except _Unsupported as exc:
                exc.path.append(f"[{index}]")
                raise
            if new is not value:
                if out is None:
                    out = list(obj)
                out[index] = new
        return obj if out is None else out

    def _items(self, items: Any, label: Callable[[int, Any], str]) -> list[Any]:
        out = []
        for index, value in enumerate(items):
            try:
                out.append(self._enc(value))
            except _Unsupported as exc:
                exc.path.append(label(index, value))
                raise
        return out

    def _tuple(self, obj: tuple[Any, ...]) -> Any:
        return {MARKER: "tuple", "v": self._items(obj, lambda i, _v: f"[{i}]")}

    def _set(self, obj: set[Any] | frozenset[Any]) -> Any:
        try:
            items = sorted(obj)
        except Exception:  # noqa: BLE001 - unorderable items keep their order
            items = list(obj)
        name = "set" if type(obj) is set else "frozenset"
        return {MARKER: name, "v": self._items(items, lambda _i, v: f" (element {_key_text(v)})")}

    def _bytes(self, obj: bytes | bytearray) -> Any:
        name = "bytes" if type(obj) is bytes else "bytearray"
        return {MARKER: name, "v": base64.b64encode(obj).decode("ascii")}

    def _complex(self, obj: complex) -> Any:
        return {MARKER: "complex", "v": [self._enc(obj.real), self._enc(obj.imag)]}

    def _tz(self, tz: Any) -> Any:
        if type(tz) is dt.timezone:
            offset = tz.utcoffset(None)
            out: dict[str, Any] = {
                MARKER: "timezone",
                "v": [offset.days, offset.seconds, offset.microseconds],
            }
            name = tz.tzname(None)
            if name != dt.timezone(offset).tzname(None):
                out["name"] = name
            return out
        if type(tz) is zoneinfo.ZoneInfo and tz.key is not None:
            return {MARKER: "zoneinfo", "key": tz.key}
        raise _Unsupported(
            f"time zone {tz!r} of type {_type_name(tz)} is not supported; use "
            f"datetime.timezone or zoneinfo.ZoneInfo(key)"
        )

    def _with_tz(self, tag: str, obj: dt.datetime | dt.time) -> Any:
        out: dict[str, Any] = {MARKER: tag, "v": obj.isoformat()}
        if obj.tzinfo is not None:
            try:
                out["tz"] = self._tz(obj.tzinfo)
            except _Unsupported as exc:
                exc.path.append(".tzinfo")
                raise
        if obj.fold:
            out["fold"] = obj.fold
        return out

    def _datetime(self, obj: dt.datetime) -> Any:
        return self._with_tz("datetime", obj)

    def _time(self, obj: dt.time) -> Any:
        return self._with_tz("time", obj)

    def _fields(self, obj: Any, names: list[str]) -> dict[str, Any]:
        out = {}
        for name in names:
            try:
                out[name] = self._enc(getattr(obj, name))
            except _Unsupported as exc:
                exc.path.append(f".{name}")
                raise
        return out

    def _class(self, obj: Any) -> str:
        path = classes.class_path(type(obj))
        if path is None:
            raise _Unsupported(
                f"class {_type_name(obj)} cannot be found again by its import path (defined "
                f"inside a function, or renamed); define it at module level"
            )
        return path

    def _object(self, obj: Any) -> Any:
        if isinstance(obj, enum.Enum):
            cls = type(obj)
            out: dict[str, Any] = {MARKER: "enum", "cls": self._class(obj)}
            if obj.name is not None and cls.__members__.get(obj.name) is obj:
                out["name"] = obj.name
            else:
                try:
                    out["value"] = self._enc(obj.value)
                except _Unsupported as exc:
                    exc.path.append(".value")
                    raise
            return out
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            names = [f.name for f in dataclasses.fields(obj)]
            return {MARKER: "dataclass", "cls": self._class(obj), "fields": self._fields(obj, names)}
        if attrs.has(type(obj)):
            names = [a.name for a in attrs.fields(type(obj))]
            return {MARKER: "attrs", "cls": self._class(obj), "fields": self._fields(obj, names)}
        if _pydantic_model(obj):
            return self._pydantic(obj)
        if self.object_encoder is not None:
            try:
                custom = self.object_encoder(obj)
            except TypeError:
                custom = NotImplemented
            if custom is not NotImplemented:
                return {MARKER: "object", "v": self._enc(custom)}
        hint = "use result_serializer='pickle', or give JSONSerializer an object_encoder"
        if self.object_encoder is not None:
            hint = "the object_encoder declined it too; use result_serializer='pickle'"
        raise _Unsupported(f"type {_type_name(obj)!r} is not supported ({hint})")

    def _pydantic(self, obj: Any) -> Any:
        names = list(type(obj).model_fields)
        out: dict[str, Any] = {
            MARKER: "pydantic",
            "cls": self._class(obj),
            "fields": self._fields(obj, names),
            "set": sorted(obj.model_fields_set),
        }
        extra = obj.__pydantic_extra__
        if extra:
            try:
                out["extra"] = self._enc(dict(extra))
            except _Unsupported as exc:
                exc.path.append(".__pydantic_extra__")
                raise
        private = obj.__pydantic_private__
        if private:
            try:
                out["private"] = self._enc(dict(private))
            except _Unsupported as exc:
                exc.path.append(".__pydantic_private__")
                raise
        return out


class Decoder:
    """Turns plain JSON data made by :class:`Encoder` back into the value."""

    def __init__(self, object_decoder: Callable[[Any], Any] | None) -> None:
        self.object_decoder = object_decoder
        self._tags: dict[str, Callable[[dict[str, Any]], Any]] = {
            "tuple": lambda d: tuple(self._dec_all(d["v"])),
            "set": lambda d: set(self._dec_all(d["v"])),
            "frozenset": lambda d: frozenset(self._dec_all(d["v"])),
            "dict": lambda d: {self.decode(k): self.decode(v) for k, v in d["v"]},
            "bytes": lambda d: base64.b64decode(d["v"]),
            "bytearray": lambda d: bytearray(base64.b64decode(d["v"])),
            "int": lambda d: int(d["v"], 16) if "x" in d["v"] else int(d["v"]),
            "float": lambda d: float(d["v"]),
            "complex": lambda d: complex(*self._dec_all(d["v"])),
            "str": lambda d: d["v"].encode("ascii").decode("unicode_escape"),
            "datetime": self._datetime,
            "date": lambda d: dt.date.fromisoformat(d["v"]),
            "time": self._time,
            "timedelta": lambda d: dt.timedelta(*d["v"]),
            "timezone": self._timezone,
            "zoneinfo": lambda d: zoneinfo.ZoneInfo(d["key"]),
            "decimal": lambda d: decimal.Decimal(d["v"]),
            "uuid": lambda d: uuid.UUID(d["v"]),
            "path": lambda d: _PATHS[d["cls"]](d["v"]),
            "enum": self._enum,
            "dataclass": self._dataclass,
            "attrs": self._attrs,
            "pydantic": self._pydantic,
            "object": self._custom,
        }

    def decode(self, obj: Any) -> Any:
        t = type(obj)
        if t is dict:
            if MARKER in obj:
                return self._untag(obj)
            for key, value in obj.items():
                tv = type(value)
                if tv is dict or tv is list:
                    new = self.decode(value)
                    if new is not value:
                        obj[key] = new
            return obj
        if t is list:
            for index, value in enumerate(obj):
                tv = type(value)
                if tv is dict or tv is list:
                    new = self.decode(value)
                    if new is not value:
                        obj[index] = new
            return obj
        return obj

    def _dec_all(self, items: list[Any]) -> list[Any]:
        return [self.decode(v) for v in items]

    def _untag(self, data: dict[str, Any]) -> Any:
        tag = data[MARKER]
        handler = self._tags.get(tag) if isinstance(tag, str) else None
        if handler is None:
            raise SerializationError(
                f"unknown JSON tag {MARKER}={tag!r}; the data was written by a newer "
                f"conveyor-serializer-json, or is not conveyor's JSON"
            )
        try:
            return handler(data)
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(
                f"cannot rebuild a {tag!r} value from JSON ({type(exc).__name__}: {exc})"
            ) from exc

    def _tzinfo(self, data: dict[str, Any]) -> Any:
        tz = data.get("tz")
        return None if tz is None else self.decode(tz)

    def _datetime(self, data: dict[str, Any]) -> Any:
        value = dt.datetime.fromisoformat(data["v"])
        return value.replace(tzinfo=self._tzinfo(data), fold=data.get("fold", 0))

    def _time(self, data: dict[str, Any]) -> Any:
        value = dt.time.fromisoformat(data["v"])
        return value.replace(tzinfo=self._tzinfo(data), fold=data.get("fold", 0))

    def _timezone(self, data: dict[str, Any]) -> Any:
        offset = dt.timedelta(*data["v"])
        if "name" in data:
            return dt.timezone(offset, data["name"])
        return dt.UTC if not offset else dt.timezone(offset)

    def _find(self, data: dict[str, Any], check: Callable[[Any], bool], kind: str) -> Any:
        path = data["cls"]
        try:
            cls = classes.find(path)
        except LookupError as exc:
            raise SerializationError(
                f"cannot rebuild {kind} {path!r} from JSON: {exc}; import or install it in "
                f"the process that reads the result"
            ) from None
        if not isinstance(cls, type) or not check(cls):
            raise SerializationError(
                f"cannot rebuild {kind} {path!r} from JSON: {path!r} is not {kind} here"
            )
        return cls

    def _enum(self, data: dict[str, Any]) -> Any:
        cls = self._find(data, lambda c: issubclass(c, enum.Enum), "an Enum")
        if "name" in data:
            return cls[data["name"]]
        return cls(self.decode(data["value"]))

    def _build(self, cls: Any, fields: dict[str, Any]) -> Any:
        obj = cls.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(obj, name, self.decode(value))
        return obj

    def _dataclass(self, data: dict[str, Any]) -> Any:
        cls = self._find(data, dataclasses.is_dataclass, "a dataclass")
        return self._build(cls, data["fields"])

    def _attrs(self, data: dict[str, Any]) -> Any:
        cls = self._find(data, attrs.has, "an attrs class")
        return self._build(cls, data["fields"])

    def _pydantic(self, data: dict[str, Any]) -> Any:
        cls = self._find(data, _is_model_class, "a pydantic model")
        values = {name: self.decode(v) for name, v in data["fields"].items()}
        if "extra" in data:
            values.update(self.decode(data["extra"]))
        obj = cls.model_construct(_fields_set=set(data["set"]), **values)
        if "private" in data:
            for name, value in self.decode(data["private"]).items():
                setattr(obj, name, value)
        return obj

    def _custom(self, data: dict[str, Any]) -> Any:
        if self.object_decoder is None:
            raise SerializationError(
                "the JSON holds a value written by an object_encoder, and this "
                "JSONSerializer has no object_decoder; give the matching object_decoder"
            )
        return self.object_decoder(self.decode(data["v"]))


def _is_model_class(cls: type) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and issubclass(cls, pydantic.BaseModel)
