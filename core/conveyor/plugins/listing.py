"""What ``conveyor plugins`` shows: each registered plugin, where it came from, what it provides.

May import: conveyor (its version), the sibling modules.
"""

from __future__ import annotations

from typing import Any

import attrs

from conveyor import __version__
from conveyor.plugins.builtin import BUILTIN_NAMES
from conveyor.plugins.loading import Provenance
from conveyor.plugins.manager import PluginManager, get_plugin_manager
from conveyor.plugins.registry import (
    METADATA,
    SERIALIZERS,
    STORAGE,
    TASK_RUNNERS,
    RegistryKind,
    selection_names,
)


@attrs.frozen
class PluginInfo:
    """What ``conveyor plugins`` shows about one loaded plugin."""

    name: str
    entry_point: str | None
    distribution: str | None
    version: str | None
    serializers: tuple[str, ...]
    storage: tuple[str, ...]
    hooks: tuple[str, ...]
    #: URL schemes of the metadata backends it provides.
    metadata: tuple[str, ...] = ()
    #: names of the task runners it provides.
    task_runners: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, value_serializer=lambda _i, _a, v: list(v) if isinstance(v, tuple) else v)


def _provided(plugin: object, kind: RegistryKind) -> list[str]:
    """The sorted names ``plugin``'s registration hook of ``kind`` returns."""
    hook = getattr(plugin, kind.hook, None)
    if hook is None:
        return []
    return sorted(name for item in hook() or [] for name in selection_names(item, kind) or ())


def list_plugins(pm: PluginManager | None = None) -> list[PluginInfo]:
    """Describe every registered plugin: entry point, distribution, what it provides."""
    pm = pm or get_plugin_manager()
    infos = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        hooks = sorted(h.name for h in pm.pluggy.get_hookcallers(plugin) or [])
        # names as the hooks give them: a class's attribute or a ClassRef's name (no import)
        serializers = _provided(plugin, SERIALIZERS)
        storage = _provided(plugin, STORAGE)
        metadata = _provided(plugin, METADATA)
        runners = _provided(plugin, TASK_RUNNERS)
        origin = pm.provenance.get(name, Provenance(None, None, None))
        dist, version = origin.distribution, origin.version
        if name in BUILTIN_NAMES:
            dist, version = "conveyor", __version__
        infos.append(
            PluginInfo(
                name=name,
                entry_point=origin.entry_point,
                distribution=dist,
                version=version,
                serializers=tuple(serializers),
                storage=tuple(storage),
                hooks=tuple(hooks),
                metadata=tuple(metadata),
                task_runners=tuple(runners),
            )
        )
    return infos


__all__ = ["PluginInfo", "list_plugins"]
