"""Values to plain JSON data: :class:`Encoder` (tagging every value JSON cannot hold).

The mapping is described in :mod:`.codec`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import math
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import attrs
from conveyor.exceptions import SerializationError

from conveyor_serializer_json import classes
from conveyor_serializer_json.codec import (
    _INT_MAX,
    _INT_MIN,
    _PATHS,
    MARKER,
    _key_text,
    _pydantic_model,
    _type_name,
    _Unsupported,
)


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


__all__ = ["Encoder"]
