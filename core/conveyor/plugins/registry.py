"""Name → class registries of plugin-provided classes, one per kind.

A plugin's registration hook returns classes that carry their selection name as a class
attribute (``Serializer.type``, ``StorageBlock.block_type``), or a
:class:`~conveyor.markers.ClassRef` for each, naming it and its import path (the class is
imported when first asked for). A :class:`ClassRegistry` holds one kind's classes by
that name, refuses a name provided twice (naming both
providers), and answers an unknown name with the one error of its kind: with an install
hint when the name belongs to a plugin of ours that is not installed, or the setting to
change when that plugin is installed but disabled (``CONVEYOR_DISABLE_PLUGINS``).

May import: conveyor.exceptions, conveyor.markers, conveyor.values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from conveyor.exceptions import DuplicatePluginError, PluginLoadError, UnknownNameError
from conveyor.markers import ClassRef
from conveyor.values import Value

#: Classes that live in plugin distributions of ours, so a missing one gets a hint.
KNOWN_PROVIDERS: dict[str, str] = {
    # class name or registry name -> distribution that provides it, and the install command
    # (the one README's "Use conveyor in your project" gives: wheels built by `make dist`)
    "LocalFileSystem": "conveyor-storage-local (pip install --find-links dist conveyor-storage-local)",
    "local-file-system": "conveyor-storage-local (pip install --find-links dist conveyor-storage-local)",
    "S3": "conveyor-storage-s3 (pip install --find-links dist 'conveyor[s3]')",
    "s3": "conveyor-storage-s3 (pip install --find-links dist 'conveyor[s3]')",
    "JSONSerializer": "conveyor-serializer-json (pip install --find-links dist conveyor-serializer-json)",
    "json": "conveyor-serializer-json (pip install --find-links dist conveyor-serializer-json)",
    "PickleSerializer": "conveyor-serializer-pickle (pip install --find-links dist conveyor-serializer-pickle)",
    "pickle": "conveyor-serializer-pickle (pip install --find-links dist conveyor-serializer-pickle)",
    "PostgresStore": "conveyor-metadata-postgres (pip install --find-links dist 'conveyor[postgres]')",
    "postgresql": "conveyor-metadata-postgres (pip install --find-links dist 'conveyor[postgres]')",
    "postgres": "conveyor-metadata-postgres (pip install --find-links dist 'conveyor[postgres]')",
    "DaskTaskRunner": "conveyor-runner-dask (pip install --find-links dist 'conveyor[dask]')",
    "dask": "conveyor-runner-dask (pip install --find-links dist 'conveyor[dask]')",
}


class RegistryKind(Value):
    """One kind of plugin-provided class.

    :ivar noun: what an error calls one name (``"serializer"``, ``"block type"``).
    :ivar hook: the registration hook that returns the classes.
    :ivar attribute: the class attribute holding each class's selection name (or, for
        metadata backends, a tuple of names: the URL schemes it serves).
    """

    __slots__ = _fields = ("noun", "hook", "attribute")

    noun: str
    hook: str
    attribute: str

    def __init__(self, noun: str, hook: str, attribute: str) -> None:
        self._init(noun, hook, attribute)


SERIALIZERS = RegistryKind("serializer", "conveyor_register_serializers", "type")
STORAGE = RegistryKind("block type", "conveyor_register_storage", "block_type")
METADATA = RegistryKind(
    "metadata database URL scheme", "conveyor_register_metadata_backends", "schemes"
)
TASK_RUNNERS = RegistryKind("task runner", "conveyor_register_task_runners", "name")
KINDS = (SERIALIZERS, STORAGE, METADATA, TASK_RUNNERS)


def _distribution(hint: str) -> str:
    return hint.split(" ", 1)[0]


def disabled_hint(name: str, disabled: Mapping[str, str]) -> str | None:
    """Why ``name`` is missing when its plugin is installed but disabled, or None.

    :param disabled: distribution name -> entry-point name, of the plugins skipped because
        of ``CONVEYOR_DISABLE_PLUGINS``.
    """
    hint = KNOWN_PROVIDERS.get(name)
    if hint and _distribution(hint) in disabled:
        entry_point = disabled[_distribution(hint)]
        return (
            f"its plugin {_distribution(hint)} is installed but disabled by "
            f"CONVEYOR_DISABLE_PLUGINS={entry_point}; remove {entry_point!r} from that setting "
            f"to use it"
        )
    if disabled and not hint:
        shown = ", ".join(sorted(disabled.values()))
        return f"CONVEYOR_DISABLE_PLUGINS disables {shown}, which may provide it"
    return None


def unknown_name(
    kind: str, name: str, available: Iterable[str], disabled: Mapping[str, str] | None = None
) -> UnknownNameError:
    """Build the one error for an unknown registry name: why, and what to do."""
    listed = ", ".join(sorted(available)) or "none"
    message = f"unknown {kind} {name!r}; available: {listed}"
    why = disabled_hint(name, disabled or {})
    hint = KNOWN_PROVIDERS.get(name)
    if why:
        message += f"; {why}"
    elif hint:
        message += f"; install {hint} to use it"
    return UnknownNameError(message)


def selection_names(item: Any, kind: RegistryKind) -> tuple[str, ...] | None:
    """The names a registered item is selected by (a class's attribute, or what a
    :class:`~conveyor.markers.ClassRef` declares); None when it has none."""
    if isinstance(item, ClassRef):
        return item.names
    value = getattr(item, kind.attribute, None)
    keys = value if isinstance(value, tuple) and value else (value,)
    return keys if all(isinstance(k, str) and k for k in keys) else None


def _dotted(item: Any) -> str:
    if isinstance(item, ClassRef):
        return item.path.replace(":", ".")
    return f"{item.__module__}.{item.__qualname__}"


def _same(a: Any, b: Any) -> bool:
    """One class, given as a class or a ClassRef either side."""
    return a is b or (not (isinstance(a, type) and isinstance(b, type)) and _dotted(a) == _dotted(b))


class ClassRegistry:
    """One kind's classes by selection name, sorted by name.

    A class a plugin named with a :class:`~conveyor.markers.ClassRef` is imported when
    it is first asked for (:meth:`get`, :meth:`by_class_name`, :attr:`classes`), not
    when the registry is collected: a plugin's module that fails to import is then a
    :class:`PluginLoadError` naming the plugin, the name and the import path.
    """

    __slots__ = ("_entries", "_label", "_loaded", "_name_of", "disabled", "kind")

    def __init__(
        self,
        kind: RegistryKind,
        entries: Mapping[str, tuple[Any, object]],
        disabled: Mapping[str, str] | None = None,
        label: Callable[[object], str] = repr,
        name_of: Callable[[object], str | None] | None = None,
    ) -> None:
        self.kind = kind
        self._entries = {name: entries[name] for name in sorted(entries)}
        #: distribution name -> entry-point name of the plugins disabled by the setting.
        self.disabled = dict(disabled or {})
        self._label = label
        self._name_of = name_of
        self._loaded: dict[str, type] = {}

    @classmethod
    def collect(
        cls,
        kind: RegistryKind,
        impls: Iterable[tuple[Callable[[], Any], object]],
        label: Callable[[object], str],
        disabled: Mapping[str, str] | None = None,
        name_of: Callable[[object], str | None] | None = None,
    ) -> ClassRegistry:
        """Call each ``(hook function, plugin)`` and fold the classes, refusing duplicates.

        :param impls: the registration hook's implementations, first registered first.
        :param label: how a plugin is named in errors (its distribution when known).
        :param disabled: distribution -> entry point of plugins the setting disabled.
        :param name_of: a plugin's registered name (its entry point), for hints in errors.
        """
        found: dict[str, tuple[Any, object]] = {}
        attr = kind.attribute
        for function, plugin in impls:
            result = function()
            if result is None:
                continue
            for item in result:
                keys = selection_names(item, kind)
                if keys is None or not (isinstance(item, (type, ClassRef))):
                    raise PluginLoadError(
                        f"plugin {label(plugin)} returned {item!r} from {kind.hook} without "
                        f"a string class attribute {attr!r}; set {attr} = '<name>' on the class"
                    )
                for key in keys:
                    cls._add(found, key, item, plugin, attr, label)
        return cls(kind, found, disabled, label, name_of)

    @staticmethod
    def _add(found: dict[str, tuple[Any, object]], key: str, item: Any, plugin: object,
             attr: str, label: Callable[[object], str]) -> None:
        """Add ``item`` under ``key``, refusing a key another class already has."""
        if key in found and not _same(found[key][0], item):
            other, other_plugin = found[key]
            raise DuplicatePluginError(
                f"{attr} {key!r} is provided twice: by {_dotted(other)} "
                f"from plugin {label(other_plugin)} and by "
                f"{_dotted(item)} from plugin {label(plugin)}; "
                f"uninstall one of them or disable it with CONVEYOR_DISABLE_PLUGINS"
            )
        found[key] = (item, plugin)

    @property
    def names(self) -> list[str]:
        """The registered names, sorted (nothing is imported)."""
        return list(self._entries)

    @property
    def classes(self) -> dict[str, type]:
        """Every registered class by name, sorted (imports the classes not imported yet)."""
        return {name: self._load(name) for name in self._entries}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def _load(self, name: str) -> type:
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        item, plugin = self._entries[name]
        if isinstance(item, ClassRef):
            item = self._import(name, item, plugin)
        self._loaded[name] = item
        return item  # type: ignore[no-any-return]

    def _import(self, name: str, ref: ClassRef, plugin: object) -> type:
        """The class ``ref`` names, checked to carry ``name``; else a PluginLoadError."""
        try:
            loaded = ref.load()
        except Exception as exc:
            raise PluginLoadError(
                f"{self._where(name, ref, plugin)}, which failed to import: "
                f"{type(exc).__name__}: {exc}; fix or uninstall the plugin's distribution, "
                f"or skip it with {self._skip(plugin)}"
            ) from exc
        has = selection_names(loaded, self.kind) or ()
        if not set(ref.names) <= set(has):
            raise PluginLoadError(
                f"{self._where(name, ref, plugin)}, but that class's {self.kind.attribute} is "
                f"{getattr(loaded, self.kind.attribute, None)!r}; make the plugin's ClassRef "
                f"name what the class declares"
            )
        return loaded

    def _where(self, name: str, ref: ClassRef, plugin: object) -> str:
        # only for errors: the label may read the plugin's distribution metadata
        return f"plugin {self._label(plugin)} registers {self.kind.noun} {name!r} as {ref.path}"

    def _skip(self, plugin: object) -> str:
        entry_point = self._name_of(plugin) if self._name_of is not None else None
        return f"CONVEYOR_DISABLE_PLUGINS={entry_point}" if entry_point else "CONVEYOR_DISABLE_PLUGINS"

    def get(self, name: str) -> type:
        """The class registered under ``name``, or an UnknownNameError listing the others."""
        if name not in self._entries:
            raise unknown_name(self.kind.noun, name, self._entries, self.disabled)
        return self._load(name)

    def by_class_name(self, module: str, attr: str) -> type:
        """Module ``__getattr__`` support: the registered class whose Python name is ``attr``."""
        for name, (item, _plugin) in self._entries.items():
            if (item.class_name if isinstance(item, ClassRef) else item.__name__) == attr:
                return self._load(name)
        hint = KNOWN_PROVIDERS.get(attr)
        why = disabled_hint(attr, self.disabled) if hint else None
        if why:
            raise ImportError(f"cannot import name {attr!r} from {module!r}: {why}")
        if hint:
            raise ImportError(
                f"cannot import name {attr!r} from {module!r}: it is provided by the plugin "
                f"{hint}, which is not installed (or is disabled by CONVEYOR_DISABLE_PLUGINS)"
            )
        raise AttributeError(f"module {module!r} has no attribute {attr!r}")

    def __repr__(self) -> str:
        return f"ClassRegistry({self.kind.noun!r}, {self.names!r})"


__all__ = [
    "KINDS",
    "KNOWN_PROVIDERS",
    "METADATA",
    "SERIALIZERS",
    "STORAGE",
    "TASK_RUNNERS",
    "ClassRegistry",
    "RegistryKind",
    "disabled_hint",
    "selection_names",
    "unknown_name",
]
