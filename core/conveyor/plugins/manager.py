"""The plugin manager: pluggy's manager, where each plugin came from, one registry per kind.

:func:`make_plugin_manager` builds one (a factory, never import-time state): the
built-in plugins of :data:`~conveyor.plugins.builtin.DEFAULT_PLUGINS` first, then the
installed entry points one at a time, then ``check_pending()`` so a misspelt hook fails
at once, then the registries, so a duplicate name fails at once too. The process's
current manager is kept by :func:`get_plugin_manager`; tests swap it with
:func:`set_plugin_manager` or :func:`use_plugin_manager`.

May import: conveyor.exceptions, conveyor.hookspecs, conveyor.markers, conveyor.settings,
the sibling modules.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

import pluggy

from conveyor import hookspecs
from conveyor.markers import PROJECT_NAME
from conveyor.plugins.builtin import DEFAULT_PLUGINS
from conveyor.plugins.loading import (
    Provenance,
    distribution_of,
    installed_entry_points,
    load_entry_point,
)
from conveyor.plugins.registry import (
    METADATA,
    SERIALIZERS,
    STORAGE,
    TASK_RUNNERS,
    ClassRegistry,
    RegistryKind,
)
from conveyor.settings import get_settings

_log = logging.getLogger("conveyor.plugins")


class PluginManager:
    """pluggy's manager plus what conveyor knows about each registered plugin.

    :ivar pluggy: the underlying :class:`pluggy.PluginManager` (``.hook`` is only called
        through :mod:`conveyor.plugins`' typed functions).
    :ivar provenance: plugin name -> where it came from (entry point, distribution, version).
    :ivar disabled: distribution name -> entry-point name of installed plugins that
        ``CONVEYOR_DISABLE_PLUGINS`` disabled (named in "unknown name" errors).
    """

    # a plain class, not an attrs one: built in every process's start-up, where an attrs
    # class costs its generated methods' compilation
    __slots__ = ("_lock", "_registries", "disabled", "pluggy", "provenance")

    def __init__(self, pluggy: pluggy.PluginManager, provenance: dict[str, Provenance] | None = None,
                 disabled: dict[str, str] | None = None) -> None:
        self.pluggy = pluggy
        self.provenance: dict[str, Provenance] = {} if provenance is None else provenance
        self.disabled: dict[str, str] = {} if disabled is None else disabled
        #: registries by their kind's hook name (a str: the cheapest key to look up)
        self._registries: dict[str, ClassRegistry] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PluginManager(plugins={[name for name, _ in self.pluggy.list_name_plugin()]!r})"

    # Registries ------------------------------------------------------------------------

    @property
    def serializers(self) -> ClassRegistry:
        """Registered serializer classes by ``type``."""
        return self.registry(SERIALIZERS)

    @property
    def storage(self) -> ClassRegistry:
        """Registered storage block classes by ``block_type``."""
        return self.registry(STORAGE)

    @property
    def metadata_backends(self) -> ClassRegistry:
        """Registered metadata store classes by URL scheme."""
        return self.registry(METADATA)

    @property
    def task_runners(self) -> ClassRegistry:
        """Registered task runner classes by ``name``."""
        return self.registry(TASK_RUNNERS)

    def registry(self, kind: RegistryKind) -> ClassRegistry:
        """The registry of one kind, collected from its hook on first use."""
        found = self._registries.get(kind.hook)
        if found is None:
            with self._lock:
                found = self._registries.get(kind.hook)
                if found is None:
                    hook = getattr(self.pluggy.hook, kind.hook)
                    impls = [(impl.function, impl.plugin) for impl in reversed(hook.get_hookimpls())]
                    found = self._registries[kind.hook] = ClassRegistry.collect(
                        kind, impls, self.label, self.disabled, self.pluggy.get_name
                    )
        return found

    # Plugins ---------------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register one more plugin object; the registries are collected afresh on next use."""
        registered = self.pluggy.register(plugin, name=name)
        self.pluggy.check_pending()
        with self._lock:
            self._registries.clear()
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        """Remove a plugin (by object or name); the registries are collected afresh on next use."""
        removed = self.pluggy.unregister(plugin, name=name)
        with self._lock:
            self._registries.clear()
        return removed

    def get_plugin(self, name: str) -> Any:
        """The plugin registered under ``name``, or None."""
        return self.pluggy.get_plugin(name)

    def list_name_plugin(self) -> list[tuple[str, Any]]:
        """``[(name, plugin)]`` of every registered plugin."""
        return self.pluggy.list_name_plugin()

    def label(self, plugin: object) -> str:
        """Human name of a registered plugin: its distribution when known, else its name."""
        name = self.pluggy.get_name(plugin) or repr(plugin)
        origin = self.provenance.get(name)
        if origin is not None and origin.distribution:
            return f"{name} ({origin.distribution} {origin.version})"
        return name


def make_plugin_manager(
    *,
    load_entry_points: bool = True,
    entry_points: Iterable[Any] | None = None,
    plugins: Iterable[ModuleType | object] = (),
    disabled: Iterable[str] | None = None,
) -> PluginManager:
    """Build a fresh plugin manager.

    :param load_entry_points: load the plugins installed in the entry-point group
        ``conveyor`` (one at a time, each failure a :class:`PluginLoadError`).
    :param entry_points: use these entry points instead of the installed ones (tests):
        anything with ``name``, ``value``, ``load()`` and ``dist``, e.g.
        ``importlib.metadata.EntryPoint``.
    :param plugins: extra plugin objects to register directly.
    :param disabled: entry-point names to skip; defaults to ``CONVEYOR_DISABLE_PLUGINS``.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    manager = PluginManager(pm)
    for name, module in DEFAULT_PLUGINS:
        # Loaded by name, as entry points are: built-in plugins go the same way.
        pm.register(importlib.import_module(module), name=name)
    blocked = set(get_settings().disabled_plugins if disabled is None else disabled)
    if load_entry_points or entry_points is not None:
        seen: set[str] = set()
        installed: set[str] = set()
        for ep in installed_entry_points() if entry_points is None else entry_points:
            installed.add(ep.name)
            if ep.name in blocked:
                if disabled is None:  # by the setting: errors say which setting to change
                    manager.disabled[distribution_of(ep)[0] or ep.name] = ep.name
                continue
            if ep.name in seen:
                continue
            seen.add(ep.name)
            if pm.get_plugin(ep.name) is not None:
                continue
            manager.provenance[ep.name] = load_entry_point(pm, ep)
        _warn_unknown_disabled(blocked - installed, installed, from_setting=disabled is None)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    manager.serializers, manager.storage, manager.metadata_backends, manager.task_runners  # noqa: B018 - a duplicate name fails now, not later
    return manager


def _warn_unknown_disabled(unknown: set[str], installed: set[str], from_setting: bool) -> None:
    """A disabled name that is no installed entry point disables nothing: say so."""
    if not unknown:
        return
    where = "CONVEYOR_DISABLE_PLUGINS" if from_setting else "make_plugin_manager(disabled=...)"
    names = ", ".join(repr(n) for n in sorted(unknown))
    _log.warning(
        "%s names %s, which is not the entry point of an installed plugin, so it disables "
        "nothing; installed entry points: %s",
        where, names, ", ".join(sorted(installed)) or "none",
    )


_lock = threading.RLock()
_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process's plugin manager, built on first use."""
    global _manager
    manager = _manager
    if manager is not None:
        return manager
    with _lock:
        if _manager is None:
            _manager = make_plugin_manager()
        return _manager


def set_plugin_manager(pm: PluginManager | None) -> None:
    """Replace the process's plugin manager (``None``: build afresh on next use)."""
    global _manager
    with _lock:
        _manager = pm


@contextlib.contextmanager
def use_plugin_manager(pm: PluginManager) -> Iterator[PluginManager]:
    """Use ``pm`` inside the block, then restore the previous manager."""
    with _lock:
        previous = _manager
    set_plugin_manager(pm)
    try:
        yield pm
    finally:
        set_plugin_manager(previous)


__all__ = [
    "PluginManager",
    "get_plugin_manager",
    "make_plugin_manager",
    "set_plugin_manager",
    "use_plugin_manager",
]
