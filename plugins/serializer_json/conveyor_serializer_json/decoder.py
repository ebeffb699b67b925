"""Plain JSON data back to values: :class:`Decoder` (reading the tagged objects).

The mapping is described in :mod:`.codec`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import sys
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import attrs
from conveyor.exceptions import SerializationError

from conveyor_serializer_json import classes
from conveyor_serializer_json.codec import _PATHS, MARKER


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


__all__ = ["Decoder"]
