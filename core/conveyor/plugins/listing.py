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


def list_plugins(pm: PluginManager | None = None) -> list[PluginInfo]:
    """Describe every registered plugin: entry point, distribution, what it provides."""
    pm = pm or get_plugin_manager()
    infos = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        serializers: list[str] = []
        storage: list[str] = []
        runners: list[str] = []
        hooks = sorted(h.name for h in pm.pluggy.get_hookcallers(plugin) or [])
        if hasattr(plugin, "conveyor_register_serializers"):
            serializers = sorted(c.type for c in plugin.conveyor_register_serializers() or [])
        if hasattr(plugin, "conveyor_register_storage"):
            storage = sorted(c.block_type for c in plugin.conveyor_register_storage() or [])
        metadata: list[str] = []
        if hasattr(plugin, "conveyor_register_metadata_backends"):
            for c in plugin.conveyor_register_metadata_backends() or []:
                metadata.extend(c.schemes)
        if hasattr(plugin, "conveyor_register_task_runners"):
            runners = sorted(c.name for c in plugin.conveyor_register_task_runners() or [])
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
                metadata=tuple(sorted(metadata)),
                task_runners=tuple(runners),
            )
        )
    return infos


__all__ = ["PluginInfo", "list_plugins"]
