"""The engine: one run's life, from the call of a task or flow to its final state.

- :mod:`~conveyor.engine.calls`: the entry points (call, submit, flow call), sync and async;
- :mod:`~conveyor.engine.attempts`: the one attempt loop (retries), with a sync and an async driver;
- :mod:`~conveyor.engine.task_run` / :mod:`~conveyor.engine.flow_run`: one run each, subflows;
- :mod:`~conveyor.engine.recorder`: states recorded and logged, results made and persisted;
- :mod:`~conveyor.engine.destination`: where and how a result goes, resolved once per flow run;
- :mod:`~conveyor.engine.context`: which run the current code belongs to;
- :mod:`~conveyor.engine.options`: the decorators' option checks;
- :mod:`~conveyor.engine.ids`, :mod:`~conveyor.engine.logs`: run ids, log lines.

May import: conveyor.blocks, conveyor.exceptions, conveyor.filesystems, conveyor.futures,
conveyor.metadata, conveyor.plugins, conveyor.policy, conveyor.results,
conveyor.serializers, conveyor.settings, conveyor.states, conveyor.task_runners. Never
conveyor.tasks or conveyor.flows (they import the engine), nor the CLI.
"""

from __future__ import annotations

from conveyor.engine.calls import run_flow, run_flow_async, run_task, run_task_async, submit_task
from conveyor.engine.context import flow_run_context, get_run_context, task_run_context

__all__ = [
    "flow_run_context",
    "get_run_context",
    "run_flow",
    "run_flow_async",
    "run_task",
    "run_task_async",
    "submit_task",
    "task_run_context",
]
