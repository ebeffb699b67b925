"""Serializers turn values into bytes and back.

The base class is here; the classes themselves come from plugins (``JSONSerializer``
from ``conveyor-serializer-json``, ``PickleSerializer`` from
``conveyor-serializer-pickle``, …) and are reachable as attributes of this module::

    from conveyor.serializers import JSONSerializer

A serializer is an attrs class whose fields are its whole configuration: that
configuration is recorded with every result, so the exact serializer that wrote a value
can be rebuilt to read it. The base class lives in :mod:`conveyor.serialization.base`.

A configuration read back from a record (a result reference, a stored file's header) is
not trusted to choose code: a field made with :func:`import_path_field` (the JSON
serializer's ``object_decoder``, the pickle serializer's ``picklelib``) may only name an
import path on the allow-list: the field's own trusted defaults, paths allowed in code
(:func:`allow_imports`, or a serializer instance given as ``result_serializer``), and
``CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS``. Anything else is refused before it is imported.

May import: conveyor.exceptions, conveyor.plugins, conveyor.serialization.base,
conveyor.settings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Literal

import attrs

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


#: attrs metadata key of a serializer field whose value names an importable object.
IMPORT_PATH = "conveyor_import_path"

_allowed: set[str] = set()
_allowed_lock = threading.Lock()


def import_path_field(
    *, kind: Literal["callable", "module"] = "callable", trusted: Iterable[str] = (), **kwargs: Any
) -> Any:
    """An attrs field naming an importable object (``"pkg.mod:function"`` or a module name).

    Read back from a record, its value must be on the allow-list (``trusted`` holds the
    values that always are, such as a plugin's defaults); see :func:`allow_imports`.
    """
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata[IMPORT_PATH] = {"kind": kind, "trusted": frozenset(map(normalize_import_path, trusted))}
    return attrs.field(metadata=metadata, **kwargs)


def normalize_import_path(path: str) -> str:
    """``"pkg.mod.name"`` and ``"pkg.mod:name"`` as one spelling (``"pkg.mod:name"``)."""
    path = path.strip()
    if ":" in path or "." not in path:
        return path
    module, _, name = path.rpartition(".")
    return f"{module}:{name}"


def allow_imports(*paths: str) -> None:
    """Allow stored serializer configurations to name these import paths in this process.

    ``"pkg.mod:function"`` allows that object, ``"pkg.mod:*"`` everything in the module,
    ``"pkg"`` a module (e.g. a pickle library). ``CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS``
    allows paths for every process.
    """
    for path in paths:
        if not isinstance(path, str) or not path.strip():
            raise ConfigurationError(f"allow_imports() takes import paths as text; got {path!r}")
    with _allowed_lock:
        _allowed.update(normalize_import_path(p) for p in paths)


#: The last allow-list made: (settings it was made with, paths allowed in code, the list).
_allowed_memo: tuple[Any, int, frozenset[str]] | None = None


def allowed_imports() -> frozenset[str]:
    """The import paths allowed in this process: in code and by the setting.

    Made again only when the settings changed or code allowed more (paths are only ever
    added in code), so reading a result back does not rebuild it each time."""
    global _allowed_memo
    settings = get_settings()
    memo = _allowed_memo
    if memo is not None and memo[0] is settings and memo[1] == len(_allowed):
        return memo[2]
    with _allowed_lock:
        in_code = frozenset(_allowed)
    allowed = in_code | {normalize_import_path(p) for p in settings.allowed_imports}
    _allowed_memo = (settings, len(in_code), allowed)
    return allowed


#: The fields of a serializer class that name import paths (its class is never changed).
_fields_of: dict[type, list[tuple[str, dict[str, Any]]]] = {}


def _import_fields(cls: type) -> list[tuple[str, dict[str, Any]]]:
    found = _fields_of.get(cls)
    if found is None:
        found = [] if not attrs.has(cls) else [
            (f.name, f.metadata[IMPORT_PATH]) for f in attrs.fields(cls) if IMPORT_PATH in f.metadata
        ]
        _fields_of[cls] = found
    return found


def _is_allowed(path: str, spec: dict[str, Any], allowed: frozenset[str]) -> bool:
    norm = normalize_import_path(path)
    if norm in spec["trusted"] or norm in allowed:
        return True
    module = norm.partition(":")[0]
    return f"{module}:*" in allowed


def check_record_imports(cls: type[Serializer], config: dict[str, Any]) -> None:
    """Refuse a configuration from a record that names an import path not allowed."""
    fields = _import_fields(cls)
    if not fields:
        return
    allowed = allowed_imports()
    for name, spec in fields:
        value = config.get(name)
        if value is None or (isinstance(value, str) and _is_allowed(value, spec, allowed)):
            continue
        raise ConfigurationError(
            f"a stored serializer configuration names {cls.type}.{name}={value!r}, which is "
            f"not on the allow-list of imports, so it is not imported: conveyor never runs "
            f"code a record chooses. If you trust it, allow it with "
            f"conveyor.serializers.allow_imports({value!r}) or "
            f"CONVEYOR_SERIALIZERS_ALLOWED_IMPORTS={value}"
        )


def _allow_own_imports(serializer: Serializer) -> None:
    """A serializer built in code names what its user chose: allow its import paths."""
    for name, _spec in _import_fields(type(serializer)):
        value = getattr(serializer, name, None)
        if isinstance(value, str) and value:
            allow_imports(value)
    if attrs.has(type(serializer)):
        for f in attrs.fields(type(serializer)):  # type: ignore[arg-type]
            inner = getattr(serializer, f.name, None)
            if isinstance(inner, Serializer):
                _allow_own_imports(inner)


#: Serializers rebuilt from configurations, by configuration, with the allow-list they
#: were checked against (a serializer is a value: the same configuration, the same one).
_built: tuple[frozenset[str] | None, dict[str, Serializer]] = (None, {})


def serializer_from_dict(data: dict[str, Any]) -> Serializer:
    """Rebuild a serializer from :meth:`Serializer.to_dict` (for example from a record).

    Import paths it names must be allowed (:func:`allow_imports`); they are checked
    before anything is imported. The same configuration gives the same serializer while
    the allow-list is unchanged.
    """
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"serializer configuration must be a dict such as {{'type': 'json'}}; "
            f"got {type(data).__name__} {data!r}"
        )
    global _built
    allowed = allowed_imports()
    if _built[0] is not allowed:  # the allow-list changed: every configuration is checked again
        _built = (allowed, {})
    try:
        key = repr(sorted(data.items()))
    except TypeError:  # keys that do not sort: not one of ours, checked below
        key = None
    found = _built[1].get(key) if key is not None else None
    if found is not None:
        return found
    config = dict(data)
    name = config.pop("type", None)
    if not isinstance(name, str):
        raise ConfigurationError(f"serializer configuration {data!r} has no 'type'")
    cls = get_serializer_class(name)
    check_record_imports(cls, config)
    serializer = cls.from_config(config)
    if key is not None:
        if len(_built[1]) >= 256:
            _built[1].clear()
        _built[1][key] = serializer
    return serializer


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
    ones; any other kind of value raises ``TypeError``. An instance's import paths
    (``object_decoder``, ``picklelib``...) are allowed in this process from then on, so
    the records it writes can be read back here.
    """
    if isinstance(value, Serializer):
        _allow_own_imports(value)
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


def check_default_serializer() -> None:
    """Refuse a ``CONVEYOR_RESULTS_DEFAULT_SERIALIZER`` that names no installed serializer,
    as :func:`default_serializer` would, without building it (nor importing its module)."""
    name = get_settings().default_serializer
    parts = ("compressed", name.split("/", 1)[1]) if name.startswith("compressed/") else (name,)
    registry = plugins.serializers()
    if not all(part in registry for part in parts):
        default_serializer()  # raises the one error saying what is installed


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
    "IMPORT_PATH",
    "SerializationError",
    "Serializer",
    "allow_imports",
    "allowed_imports",
    "check_default_serializer",
    "check_record_imports",
    "default_serializer",
    "get_serializer_class",
    "import_path_field",
    "normalize_import_path",
    "resolve_serializer",
    "serializer_classes",
    "serializer_from_dict",
]
