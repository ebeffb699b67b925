"""Name → class registries of plugin-provided classes, one per kind.

A plugin's registration hook returns classes that carry their selection name as a class
attribute (``Serializer.type``, ``StorageBlock.block_type``). A :class:`ClassRegistry`
holds one kind's classes by that name, refuses a name provided twice (naming both
providers), and answers an unknown name with the one error of its kind: with an install
hint when the name belongs to a plugin of ours that is not installed, or the setting to
change when that plugin is installed but disabled (``CONVEYOR_DISABLE_PLUGINS``).

May import: conveyor.exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from conveyor.exceptions import DuplicatePluginError, PluginLoadError, UnknownNameError

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


@attrs.frozen
class RegistryKind:
    """One kind of plugin-provided class.

    :ivar noun: what an error calls one name (``"serializer"``, ``"block type"``).
    :ivar hook: the registration hook that returns the classes.
    :ivar attribute: the class attribute holding each class's selection name (or, for
        metadata backends, a tuple of names: the URL schemes it serves).
    """

    noun: str
    hook: str
    attribute: str


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


@attrs.frozen
class ClassRegistry:
    """One kind's classes by selection name, sorted by name."""

    kind: RegistryKind
    classes: dict[str, type]
    #: distribution name -> entry-point name of the plugins disabled by the setting.
    disabled: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def collect(
        cls,
        kind: RegistryKind,
        impls: Iterable[tuple[Callable[[], Any], object]],
        label: Callable[[object], str],
        disabled: Mapping[str, str] | None = None,
    ) -> ClassRegistry:
        """Call each ``(hook function, plugin)`` and fold the classes, refusing duplicates.

        :param impls: the registration hook's implementations, first registered first.
        :param label: how a plugin is named in errors (its distribution when known).
        :param disabled: distribution -> entry point of plugins the setting disabled.
        """
        found: dict[str, tuple[type, object]] = {}
        attr = kind.attribute
        for function, plugin in impls:
            result = function()
            if result is None:
                continue
            for item in result:
                value = getattr(item, attr, None)
                keys = value if isinstance(value, tuple) and value else (value,)
                for key in keys:
                    if not isinstance(key, str) or not key:
                        raise PluginLoadError(
                            f"plugin {label(plugin)} returned {item!r} from {kind.hook} without "
                            f"a string class attribute {attr!r}; set {attr} = '<name>' on the class"
                        )
                for key in keys:
                    cls._add(found, key, item, plugin, attr, label)
        return cls(kind, {name: found[name][0] for name in sorted(found)}, dict(disabled or {}))

    @staticmethod
    def _add(found: dict[str, tuple[type, object]], key: str, item: type, plugin: object,
             attr: str, label: Callable[[object], str]) -> None:
        """Add ``item`` under ``key``, refusing a key another class already has."""
        if key in found and found[key][0] is not item:
            other, other_plugin = found[key]
            raise DuplicatePluginError(
                f"{attr} {key!r} is provided twice: by {other.__module__}.{other.__qualname__} "
                f"from plugin {label(other_plugin)} and by "
                f"{item.__module__}.{item.__qualname__} from plugin {label(plugin)}; "
                f"uninstall one of them or disable it with CONVEYOR_DISABLE_PLUGINS"
            )
        found[key] = (item, plugin)

    def get(self, name: str) -> type:
        """The class registered under ``name``, or an UnknownNameError listing the others."""
        try:
            return self.classes[name]
        except KeyError:
            raise unknown_name(self.kind.noun, name, self.classes, self.disabled) from None

    def by_class_name(self, module: str, attr: str) -> type:
        """Module ``__getattr__`` support: the registered class whose Python name is ``attr``."""
        for cls in self.classes.values():
            if cls.__name__ == attr:
                return cls
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
    "unknown_name",
]
