"""Built-in plugin: registers :class:`~conveyor.runners.base.ThreadPoolTaskRunner` and
:class:`~conveyor.runners.base.SequentialTaskRunner`.

The same shape as every plugin distribution's ``hooks`` module; loaded by name from
:data:`conveyor.plugins.builtin.DEFAULT_PLUGINS`.

May import: conveyor.markers, conveyor.runners.base.
"""

from __future__ import annotations

from conveyor.markers import hookimpl
from conveyor.runners.base import SequentialTaskRunner, TaskRunner, ThreadPoolTaskRunner


@hookimpl
def conveyor_register_task_runners() -> list[type[TaskRunner]]:
    return [ThreadPoolTaskRunner, SequentialTaskRunner]
