"""Local folder storage for conveyor results.

Its names are imported on first use (``from conveyor_storage_local import LocalFileSystem``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor_storage_local.local import LocalFileSystem

_LAZY = {
    "LocalFileSystem": "conveyor_storage_local.local",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["LocalFileSystem"]
