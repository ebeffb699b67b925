"""Finding and importing plugins: entry points of group ``conveyor``, one at a time.

A plugin that fails to import or register is a :class:`PluginLoadError` naming its entry
point, distribution and version, with the original error chained. Entry points are found
by :mod:`.discovery` (no metadata parsed); where a plugin came from
(:class:`Provenance`: distribution and version) is read from its metadata only when
asked for (``conveyor plugins``, error messages).

May import: conveyor.exceptions, conveyor.markers, the sibling discovery module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pluggy

from conveyor.exceptions import PluginLoadError
from conveyor.markers import PROJECT_NAME
from conveyor.plugins.discovery import find_entry_points

ENTRY_POINT_GROUP = PROJECT_NAME


class Provenance:
    """Where a registered plugin came from (what ``conveyor plugins`` shows).

    Built from an entry point (``source``), its distribution and version are read from
    the distribution's metadata on first use, not when the plugin loads.
    """

    __slots__ = ("_known", "_source", "entry_point")

    def __init__(self, entry_point: str | None, distribution: str | None = None,
                 version: str | None = None, *, source: Any = None) -> None:
        self.entry_point = entry_point
        self._source = source
        self._known = (distribution, version) if source is None else None

    def _origin(self) -> tuple[str | None, str | None]:
        if self._known is None:
            self._known = distribution_of(self._source)
        return self._known

    @property
    def distribution(self) -> str | None:
        return self._origin()[0]

    @property
    def version(self) -> str | None:
        return self._origin()[1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Provenance):
            return NotImplemented
        return (self.entry_point, *self._origin()) == (other.entry_point, *other._origin())

    def __hash__(self) -> int:
        return hash((self.entry_point, *self._origin()))

    def __repr__(self) -> str:
        dist, version = self._origin()
        return f"Provenance(entry_point={self.entry_point!r}, distribution={dist!r}, version={version!r})"


def installed_entry_points() -> Iterable[Any]:
    """The entry points installed in group ``conveyor`` (see :mod:`.discovery`)."""
    return find_entry_points(ENTRY_POINT_GROUP)


def distribution_of(ep: Any) -> tuple[str | None, str | None]:
    """(distribution name, version) of an entry point, when known."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _where(ep: Any) -> tuple[str, str | None]:
    dist_name, dist_version = distribution_of(ep)
    return f"entry point {ep.name!r} ({ep.value}) of distribution {dist_name or '?'} {dist_version or '?'}", dist_name


def load_entry_point(pm: pluggy.PluginManager, ep: Any) -> Provenance:
    """Import one entry point and register it, wrapping any failure in PluginLoadError."""
    try:
        plugin = ep.load()
    except Exception as exc:
        where, dist_name = _where(ep)
        raise PluginLoadError(
            f"conveyor plugin {where} failed to import: {type(exc).__name__}: {exc}; "
            f"fix or uninstall {dist_name or 'the distribution'}, or skip it with "
            f"CONVEYOR_DISABLE_PLUGINS={ep.name}"
        ) from exc
    try:
        pm.register(plugin, name=ep.name)
    except Exception as exc:
        raise PluginLoadError(f"conveyor plugin {_where(ep)[0]} could not be registered: {exc}") from exc
    return Provenance(ep.value, source=ep)


__all__ = ["ENTRY_POINT_GROUP", "Provenance", "distribution_of", "installed_entry_points", "load_entry_point"]
