"""DaskTaskRunner: conveyor task runs on a Dask cluster (a LocalCluster, or an existing scheduler).

Its names are imported on first use (``from conveyor_runner_dask import DaskTaskRunner``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor_runner_dask.dask import DaskTaskRunner
    from conveyor_runner_dask.collector import WorkerDied

_LAZY = {
    "DaskTaskRunner": "conveyor_runner_dask.dask",
    "WorkerDied": "conveyor_runner_dask.collector",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["DaskTaskRunner", "WorkerDied"]
