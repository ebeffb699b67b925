"""The base class of every serializer: a value to bytes and back.

A serializer is an attrs class whose fields are its whole configuration: that
configuration is recorded with every result, so the exact serializer that wrote a value
can be rebuilt to read it. The classes themselves come from plugins; looking one up by
name is :mod:`conveyor.serializers`' job, not this module's.

May import: conveyor.exceptions only.
"""

from __future__ import annotations

import abc
from typing import Any, BinaryIO, ClassVar

import attrs

from conveyor.exceptions import ConfigurationError


class Serializer(abc.ABC):
    """Base class of every serializer.

    A subclass sets ``type`` (its selection name) and defines :meth:`dumps` and
    :meth:`loads`; that makes it complete. It may also override :meth:`dump` and
    :meth:`load` to stream into and out of a file object without building the whole
    byte string.
    """

    type: ClassVar[str]
    #: the file extension of what it writes (``".json"``), used in default storage keys
    extension: ClassVar[str] = ""

    @abc.abstractmethod
    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` to bytes."""

    @abc.abstractmethod
    def loads(self, data: bytes) -> Any:
        """Decode bytes made by :meth:`dumps`."""

    def file_extension(self) -> str:
        """The extension of what this serializer writes (default: the class's ``extension``)."""
        return self.extension

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write the encoding of ``obj`` into a binary file object."""
        file.write(self.dumps(obj))

    def load(self, file: BinaryIO) -> Any:
        """Read one value written by :meth:`dump` from a binary file object."""
        return self.loads(file.read())

    # -- configuration ----------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The serializer's configuration: its attrs init fields, JSON-serializable.

        A field holding another serializer (a wrapper's inner serializer) is given as
        that serializer's :meth:`to_dict`, so the whole configuration is plain JSON.
        """
        if not attrs.has(type(self)):
            return {}
        return {
            f.name: _config_value(getattr(self, f.name))
            for f in attrs.fields(type(self))  # type: ignore[arg-type]
            if f.init
        }

    def to_dict(self) -> dict[str, Any]:
        """``{"type": ..., **config}``: what a result records about its serializer."""
        return {"type": self.type, **self.config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Serializer:
        """Rebuild a serializer from :meth:`config`; unknown fields are refused."""
        known = {f.name for f in attrs.fields(cls) if f.init} if attrs.has(cls) else set()
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigurationError(
                f"serializer {cls.type!r} has no option(s) {', '.join(map(repr, unknown))}; "
                f"its options are: {', '.join(sorted(known)) or 'none'}"
            )
        return cls(**config)


def _config_value(value: Any) -> Any:
    """A configuration value as plain JSON data (nested serializers as their to_dict)."""
    if isinstance(value, Serializer):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_config_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _config_value(v) for k, v in value.items()}
    return value


__all__ = ["Serializer"]
