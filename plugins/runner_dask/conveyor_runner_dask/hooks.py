"""Hook implementations of conveyor-runner-dask (the entry point's target).

The class is named, not imported (:class:`conveyor.markers.ClassRef`): loading the plugin
costs only this module; ``conveyor_runner_dask.dask`` is imported when DaskTaskRunner is first used.
"""

from __future__ import annotations

from conveyor import hookimpl
from conveyor.markers import ClassRef


@hookimpl
def conveyor_register_task_runners():
    return [ClassRef("dask", "conveyor_runner_dask.dask:DaskTaskRunner")]
