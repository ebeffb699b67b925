"""Finding, loading and asking plugins.

Everything in conveyor that needs a plugin goes through the typed functions here; no
other module calls ``pm.hook`` itself. The manager is built by :func:`make_plugin_manager`
(a factory) and kept by :func:`get_plugin_manager`; tests swap it with
:func:`set_plugin_manager` or :func:`use_plugin_manager`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs
import importlib_metadata
import pluggy

from conveyor import hookspecs
from conveyor.exceptions import DuplicatePluginError, PluginLoadError
from conveyor.settings import get_settings

if TYPE_CHECKING:
    from conveyor.filesystems import StorageBlock
    from conveyor.policy import PersistenceDecision, PersistenceOptions
    from conveyor.serializers import Serializer

ENTRY_POINT_GROUP = "conveyor"

#: Built-in plugins, registered on every manager under these names.
BUILTIN_PLUGINS = {"conveyor.policy": "conveyor.policy", "conveyor.compressed": "conveyor.compressed"}


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

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, value_serializer=lambda _i, _a, v: list(v) if isinstance(v, tuple) else v)


def _dist_of(ep: importlib_metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _entry_points() -> Iterable[importlib_metadata.EntryPoint]:
    return importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)


def load_entry_point(pm: pluggy.PluginManager, ep: importlib_metadata.EntryPoint) -> None:
    """Import one entry point and register it, wrapping any failure in PluginLoadError."""
    dist_name, dist_version = _dist_of(ep)
    where = f"entry point {ep.name!r} ({ep.value}) of distribution {dist_name or '?'} {dist_version or '?'}"
    try:
        plugin = ep.load()
    except Exception as exc:
        raise PluginLoadError(
            f"conveyor plugin {where} failed to import: {type(exc).__name__}: {exc}; "
            f"fix or uninstall {dist_name or 'the distribution'}, or skip it with "
            f"CONVEYOR_DISABLE_PLUGINS={ep.name}"
        ) from exc
    try:
        pm.register(plugin, name=ep.name)
    except Exception as exc:
        raise PluginLoadError(
            f"conveyor plugin {where} could not be registered: {exc}"
        ) from exc
    pm._conveyor_dists[ep.name] = (ep.value, dist_name, dist_version)  # type: ignore[attr-defined]


def make_plugin_manager(
    *,
    load_entry_points: bool = True,
    entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
    plugins: Iterable[ModuleType | object] = (),
    disabled: Iterable[str] | None = None,
) -> pluggy.PluginManager:
    """Build a fresh plugin manager.

    :param load_entry_points: load the plugins installed in the entry-point group
        ``conveyor`` (one at a time, each failure a :class:`PluginLoadError`).
    :param entry_points: use these entry points instead of the installed ones (tests).
    :param plugins: extra plugin objects to register directly.
    :param disabled: entry-point names to skip; defaults to ``CONVEYOR_DISABLE_PLUGINS``.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm._conveyor_dists = {}  # type: ignore[attr-defined]
    import importlib

    for name, module in BUILTIN_PLUGINS.items():
        pm.register(importlib.import_module(module), name=name)
    blocked = set(get_settings().disabled_plugins if disabled is None else disabled)
    if load_entry_points or entry_points is not None:
        eps = _entry_points() if entry_points is None else entry_points
        seen: set[str] = set()
        for ep in eps:
            if ep.name in blocked or ep.name in seen:
                continue
            seen.add(ep.name)
            if pm.get_plugin(ep.name) is not None:
                continue
            load_entry_point(pm, ep)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    _check_duplicates(pm)
    return pm


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_registry_cache: dict[str, dict[str, type]] = {}


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, built on first use."""
    global _manager
    with _lock:
        if _manager is None:
            _manager = make_plugin_manager()
        return _manager


def set_plugin_manager(pm: pluggy.PluginManager | None) -> None:
    """Replace the process's plugin manager (``None``: build afresh on next use)."""
    global _manager
    with _lock:
        _manager = pm
        _registry_cache.clear()


@contextlib.contextmanager
def use_plugin_manager(pm: pluggy.PluginManager) -> Iterator[pluggy.PluginManager]:
    """Use ``pm`` inside the block, then restore the previous manager."""
    with _lock:
        previous = _manager
    set_plugin_manager(pm)
    try:
        yield pm
    finally:
        set_plugin_manager(previous)


def plugin_label(pm: pluggy.PluginManager, plugin: object) -> str:
    """Human name of a registered plugin: its distribution when known, else its name."""
    name = pm.get_name(plugin) or repr(plugin)
    dist = getattr(pm, "_conveyor_dists", {}).get(name)
    if dist and dist[1]:
        return f"{name} ({dist[1]} {dist[2]})"
    return name


def _collect(
    pm: pluggy.PluginManager, hook_name: str, attr: str
) -> dict[str, tuple[type, object]]:
    """name -> (class, providing plugin), refusing duplicates."""
    found: dict[str, tuple[type, object]] = {}
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):
        result = impl.function()
        if result is None:
            continue
        for cls in result:
            key = getattr(cls, attr, None)
            if not isinstance(key, str) or not key:
                raise PluginLoadError(
                    f"plugin {plugin_label(pm, impl.plugin)} returned {cls!r} from {hook_name} "
                    f"without a string class attribute {attr!r}; set {attr} = '<name>' on the class"
                )
            if key in found and found[key][0] is not cls:
                other_cls, other_plugin = found[key]
                raise DuplicatePluginError(
                    f"{attr} {key!r} is provided twice: by {other_cls.__module__}.{other_cls.__qualname__} "
                    f"from plugin {plugin_label(pm, other_plugin)} and by "
                    f"{cls.__module__}.{cls.__qualname__} from plugin {plugin_label(pm, impl.plugin)}; "
                    f"uninstall one of them or disable it with CONVEYOR_DISABLE_PLUGINS"
                )
            found[key] = (cls, impl.plugin)
    return found


def _check_duplicates(pm: pluggy.PluginManager) -> None:
    _collect(pm, "conveyor_register_serializers", "type")
    _collect(pm, "conveyor_register_storage", "block_type")


def _registry(kind: str) -> dict[str, type]:
    with _lock:
        cached = _registry_cache.get(kind)
        if cached is not None:
            return cached
        pm = get_plugin_manager()
        if kind == "serializers":
            found = _collect(pm, "conveyor_register_serializers", "type")
        else:
            found = _collect(pm, "conveyor_register_storage", "block_type")
        registry = {name: cls for name, (cls, _plugin) in sorted(found.items())}
        _registry_cache[kind] = registry
        return registry


def serializer_classes() -> dict[str, type[Serializer]]:
    """Registered serializer classes by ``type``, sorted by name."""
    return _registry("serializers")  # type: ignore[return-value]


def storage_classes() -> dict[str, type[StorageBlock]]:
    """Registered storage block classes by ``block_type``, sorted by name."""
    return _registry("storage")  # type: ignore[return-value]


def resolve_persistence(options: PersistenceOptions) -> PersistenceDecision:
    """Ask the ``conveyor_resolve_persistence`` hook (first non-None answer wins)."""
    decision = get_plugin_manager().hook.conveyor_resolve_persistence(options=options)
    if decision is None:  # only when a plugin unregistered the built-in rules
        from conveyor.policy import builtin_rules

        decision = builtin_rules(options)
    return decision


def result_persisted(run_id: str, run_kind: str, reference: Any) -> None:
    """Tell plugins a result was written; a plugin's failure is logged, never raised."""
    import logging

    hook = get_plugin_manager().hook.conveyor_result_persisted
    for impl in hook.get_hookimpls():
        try:
            impl.function(run_id=run_id, run_kind=run_kind, reference=reference)
        except Exception:
            logging.getLogger("conveyor.plugins").exception(
                "plugin %s failed in conveyor_result_persisted", impl.plugin_name
            )


def list_plugins(pm: pluggy.PluginManager | None = None) -> list[PluginInfo]:
    """Describe every registered plugin: entry point, distribution, what it provides."""
    pm = pm or get_plugin_manager()
    infos = []
    dists = getattr(pm, "_conveyor_dists", {})
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        serializers: list[str] = []
        storage: list[str] = []
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        if hasattr(plugin, "conveyor_register_serializers"):
            serializers = sorted(c.type for c in plugin.conveyor_register_serializers() or [])
        if hasattr(plugin, "conveyor_register_storage"):
            storage = sorted(c.block_type for c in plugin.conveyor_register_storage() or [])
        ep_value, dist, version = dists.get(name, (None, None, None))
        if name in BUILTIN_PLUGINS:
            from conveyor import __version__

            dist, version = "conveyor", __version__
        infos.append(
            PluginInfo(
                name=name,
                entry_point=ep_value,
                distribution=dist,
                version=version,
                serializers=tuple(serializers),
                storage=tuple(storage),
                hooks=tuple(hooks),
            )
        )
    return infos
