"""DaskTaskRunner: conveyor task runs on a Dask cluster (a LocalCluster, or an existing scheduler)."""

from conveyor_runner_dask.collector import WorkerDied
from conveyor_runner_dask.dask import DaskTaskRunner

__all__ = ["DaskTaskRunner", "WorkerDied"]
