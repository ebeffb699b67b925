"""DaskTaskRunner: conveyor task runs on a Dask cluster (a LocalCluster, or an existing scheduler).

Its names are imported on first use (``from conveyor_runner_dask import DaskTaskRunner``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.markers import lazy_attributes

if TYPE_CHECKING:
    from conveyor_runner_dask.dask import DaskTaskRunner
    from conveyor_runner_dask.collector import WorkerDied

_LAZY = {
    "DaskTaskRunner": "conveyor_runner_dask.dask",
    "WorkerDied": "conveyor_runner_dask.collector",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["DaskTaskRunner", "WorkerDied"]
