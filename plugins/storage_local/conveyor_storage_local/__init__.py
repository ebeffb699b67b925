"""Local folder storage for conveyor results.

Its names are imported on first use (``from conveyor_storage_local import LocalFileSystem``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.markers import lazy_attributes

if TYPE_CHECKING:
    from conveyor_storage_local.local import LocalFileSystem

_LAZY = {
    "LocalFileSystem": "conveyor_storage_local.local",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["LocalFileSystem"]
