"""Serializers turn values into bytes and back.

The base class is here; the classes themselves come from plugins (``JSONSerializer``
from ``conveyor-serializer-json``, ``PickleSerializer`` from
``conveyor-serializer-pickle``, …) and are reachable as attributes of this module::

    from conveyor.serializers import JSONSerializer

A serializer is an attrs class whose fields are its whole configuration: that
configuration is recorded with every result, so the exact serializer that wrote a value
can be rebuilt to read it.
"""

from __future__ import annotations

import abc
from typing import Any, BinaryIO, ClassVar

import attrs

from conveyor import _registry
from conveyor.exceptions import ConfigurationError, SerializationError


class Serializer(abc.ABC):
    """Base class of every serializer.

    A subclass sets ``type`` (its selection name) and defines :meth:`dumps` and
    :meth:`loads`; that makes it complete. It may also override :meth:`dump` and
    :meth:`load` to stream into and out of a file object without building the whole
    byte string.
    """

    type: ClassVar[str]

    @abc.abstractmethod
    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` to bytes."""

    @abc.abstractmethod
    def loads(self, data: bytes) -> Any:
        """Decode bytes made by :meth:`dumps`."""

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


def serializer_classes() -> dict[str, type[Serializer]]:
    """Installed serializer classes by type name."""
    from conveyor.plugins import serializer_classes as _classes

    return _classes()


def get_serializer_class(name: str) -> type[Serializer]:
    """The class registered under ``name``, or an UnknownNameError listing the others."""
    classes = serializer_classes()
    try:
        return classes[name]
    except KeyError:
        raise _registry.unknown_name("serializer", name, list(classes)) from None


def serializer_from_dict(data: dict[str, Any]) -> Serializer:
    """Rebuild a serializer from :meth:`Serializer.to_dict`."""
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"serializer configuration must be a dict such as {{'type': 'json'}}; "
            f"got {type(data).__name__} {data!r}"
        )
    config = dict(data)
    name = config.pop("type", None)
    if not isinstance(name, str):
        raise ConfigurationError(f"serializer configuration {data!r} has no 'type'")
    return get_serializer_class(name).from_config(config)


ACCEPTED_FORMS = (
    "a serializer type name such as 'json' or 'pickle', 'compressed/<name>', "
    "or a Serializer instance such as JSONSerializer(jsonlib='orjson')"
)


def resolve_serializer(value: str | Serializer) -> Serializer:
    """Turn a ``result_serializer`` value into a serializer instance.

    Accepts a registered type name (``"json"``, ``"pickle"``, a plugin's name),
    ``"compressed/<name>"`` (that serializer wrapped in ``CompressedSerializer`` with
    its defaults), or a :class:`Serializer` instance (returned as it is). An unknown
    name raises :class:`~conveyor.exceptions.UnknownNameError` listing the available
    ones; any other kind of value raises ``TypeError``.
    """
    if isinstance(value, Serializer):
        return value
    if isinstance(value, str):
        name = value
        if name.startswith("compressed/"):
            inner = resolve_serializer(name.split("/", 1)[1])
            return get_serializer_class("compressed").from_config({"serializer": inner})
        return get_serializer_class(name)()
    if isinstance(value, type) and issubclass(value, Serializer):
        raise TypeError(
            f"result_serializer must be {ACCEPTED_FORMS}; got the class "
            f"{value.__name__} itself: pass an instance, {value.__name__}()"
        )
    raise TypeError(
        f"result_serializer must be {ACCEPTED_FORMS}; got {type(value).__name__} {value!r}"
    )


def default_serializer() -> Serializer:
    """The serializer named by ``CONVEYOR_RESULTS_DEFAULT_SERIALIZER`` (default ``pickle``)."""
    from conveyor.exceptions import UnknownNameError
    from conveyor.settings import get_settings

    name = get_settings().default_serializer
    try:
        return resolve_serializer(name)
    except UnknownNameError as exc:
        raise ConfigurationError(f"CONVEYOR_RESULTS_DEFAULT_SERIALIZER: {exc}") from None


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return _registry.class_by_attribute(__name__, name, serializer_classes())


__all__ = [
    "ACCEPTED_FORMS",
    "SerializationError",
    "Serializer",
    "default_serializer",
    "get_serializer_class",
    "resolve_serializer",
    "serializer_classes",
    "serializer_from_dict",
]
