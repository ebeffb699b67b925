"""Serializers turn values into bytes and back.

The base class is here; the classes themselves come from plugins (``JSONSerializer``
from ``conveyor-serializer-json``, ``PickleSerializer`` from
``conveyor-serializer-pickle``, …) and are reachable as attributes of this module::

    from conveyor.serializers import JSONSerializer

A serializer is an attrs class whose fields are its whole configuration: that
configuration is recorded with every result, so the exact serializer that wrote a value
can be rebuilt to read it. The base class lives in :mod:`conveyor.serialization.base`.

May import: conveyor.exceptions, conveyor.plugins, conveyor.serialization.base,
conveyor.settings.
"""

from __future__ import annotations

from typing import Any

from conveyor import plugins
from conveyor.exceptions import ConfigurationError, SerializationError, UnknownNameError
from conveyor.serialization.base import Serializer
from conveyor.settings import get_settings


def serializer_classes() -> dict[str, type[Serializer]]:
    """Installed serializer classes by type name."""
    return plugins.serializer_classes()  # type: ignore[return-value]


def get_serializer_class(name: str) -> type[Serializer]:
    """The class registered under ``name``, or an UnknownNameError listing the others."""
    return plugins.serializers().get(name)  # type: ignore[return-value]


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
    name = get_settings().default_serializer
    try:
        return resolve_serializer(name)
    except UnknownNameError as exc:
        raise ConfigurationError(f"CONVEYOR_RESULTS_DEFAULT_SERIALIZER: {exc}") from None


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return plugins.serializers().by_class_name(__name__, name)


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
