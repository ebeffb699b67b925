"""The distribution's own entry point is really installed and registers its class."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_runner_dask import DaskTaskRunner


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-runner-dask"
    entry_point = "runner-dask"
    task_runners = (DaskTaskRunner,)
