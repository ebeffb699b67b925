"""Finding, loading and asking plugins.

Everything in conveyor that needs a plugin goes through the typed functions here; no
other module calls ``pm.hook`` itself.

- :mod:`~conveyor.plugins.manager`: the manager (a factory and the process's current one);
- :mod:`~conveyor.plugins.discovery`: the installed entry points, found without parsing metadata;
- :mod:`~conveyor.plugins.loading`: entry points, one at a time, failures named;
- :mod:`~conveyor.plugins.registry`: one name → class registry per kind, duplicates refused;
- :mod:`~conveyor.plugins.builtin`: the built-in plugins, registered like any other;
- :mod:`~conveyor.plugins.listing`: what ``conveyor plugins`` shows (imported on first use of
  ``list_plugins``).

May import: conveyor.exceptions, conveyor.hookspecs, conveyor.markers, conveyor.policy, conveyor.values,
conveyor.settings. Never the base classes' users (serializers, filesystems, engine, ...):
they import this package, not the other way round.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from conveyor.markers import lazy_attributes
from conveyor.plugins.loading import ENTRY_POINT_GROUP
from conveyor.plugins.manager import (
    PluginManager,
    get_plugin_manager,
    make_plugin_manager,
    set_plugin_manager,
    use_plugin_manager,
)
from conveyor.plugins.registry import ClassRegistry
from conveyor.policy import PersistenceDecision, PersistenceOptions, builtin_rules

if TYPE_CHECKING:
    from conveyor.plugins.listing import PluginInfo, list_plugins

_log = logging.getLogger("conveyor.plugins")

#: Names imported on first use: only ``conveyor plugins`` lists plugins.
_LAZY = {"PluginInfo": "conveyor.plugins.listing", "list_plugins": "conveyor.plugins.listing"}

__getattr__ = lazy_attributes(__name__, _LAZY)


def serializers() -> ClassRegistry:
    """The registry of serializer classes (by ``type``) of the current manager."""
    return get_plugin_manager().serializers


def storage() -> ClassRegistry:
    """The registry of storage block classes (by ``block_type``) of the current manager."""
    return get_plugin_manager().storage


def metadata_backends() -> ClassRegistry:
    """The registry of metadata store classes (by URL scheme) of the current manager."""
    return get_plugin_manager().metadata_backends


def task_runners() -> ClassRegistry:
    """The registry of task runner classes (by ``name``) of the current manager."""
    return get_plugin_manager().task_runners


def task_runner_classes() -> dict[str, type]:
    """Registered task runner classes by ``name``, sorted by name."""
    return get_plugin_manager().task_runners.classes


def serializer_classes() -> dict[str, type]:
    """Registered serializer classes by ``type``, sorted by name."""
    return get_plugin_manager().serializers.classes


def storage_classes() -> dict[str, type]:
    """Registered storage block classes by ``block_type``, sorted by name."""
    return get_plugin_manager().storage.classes


def resolve_persistence(options: PersistenceOptions) -> PersistenceDecision:
    """Ask the ``conveyor_resolve_persistence`` hook (first non-None answer wins)."""
    decision = get_plugin_manager().pluggy.hook.conveyor_resolve_persistence(options=options)
    if decision is None:  # only when a plugin unregistered the built-in rules
        decision = builtin_rules(options)
    return decision  # type: ignore[no-any-return]


def result_persisted(run_id: str, run_kind: str, reference: Any) -> None:
    """Tell plugins a result was written; a plugin's failure is logged, never raised."""
    hook = get_plugin_manager().pluggy.hook.conveyor_result_persisted
    for impl in hook.get_hookimpls():
        try:
            impl.function(run_id=run_id, run_kind=run_kind, reference=reference)
        except Exception:  # noqa: BLE001 - a listener must not fail the run
            _log.exception("plugin %s failed in conveyor_result_persisted", impl.plugin_name)


__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "PluginManager",
    "get_plugin_manager",
    "list_plugins",
    "make_plugin_manager",
    "metadata_backends",
    "resolve_persistence",
    "result_persisted",
    "serializer_classes",
    "serializers",
    "set_plugin_manager",
    "storage",
    "storage_classes",
    "task_runner_classes",
    "task_runners",
    "use_plugin_manager",
]
