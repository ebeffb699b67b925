"""Finding and importing plugins: entry points of group ``conveyor``, one at a time.

A plugin that fails to import or register is a :class:`PluginLoadError` naming its entry
point, distribution and version, with the original error chained.

May import: conveyor.exceptions, conveyor.markers.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import importlib_metadata as metadata
import pluggy

from conveyor.exceptions import PluginLoadError
from conveyor.markers import PROJECT_NAME

ENTRY_POINT_GROUP = PROJECT_NAME


@attrs.frozen
class Provenance:
    """Where a registered plugin came from (what ``conveyor plugins`` shows)."""

    entry_point: str | None
    distribution: str | None
    version: str | None


def installed_entry_points() -> Iterable[metadata.EntryPoint]:
    """The entry points installed in group ``conveyor``."""
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def distribution_of(ep: metadata.EntryPoint) -> tuple[str | None, str | None]:
    """(distribution name, version) of an entry point, when known."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def load_entry_point(pm: pluggy.PluginManager, ep: metadata.EntryPoint) -> Provenance:
    """Import one entry point and register it, wrapping any failure in PluginLoadError."""
    dist_name, dist_version = distribution_of(ep)
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
        raise PluginLoadError(f"conveyor plugin {where} could not be registered: {exc}") from exc
    return Provenance(ep.value, dist_name, dist_version)


__all__ = ["ENTRY_POINT_GROUP", "Provenance", "distribution_of", "installed_entry_points", "load_entry_point"]
