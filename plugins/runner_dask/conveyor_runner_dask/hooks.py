"""Hook implementations of conveyor-runner-dask."""

from __future__ import annotations

from conveyor import hookimpl

from conveyor_runner_dask.dask import DaskTaskRunner


@hookimpl
def conveyor_register_task_runners():
    return [DaskTaskRunner]
