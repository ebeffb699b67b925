"""Task runners: where submitted task runs execute.

- :class:`ThreadPoolTaskRunner` (the default): a pool of threads; async tasks run in
  an event loop of their worker thread.
- :class:`SequentialTaskRunner`: each submitted run executes at once in the caller's
  thread; its future is already done when ``submit()`` returns.
- runners from plugins, reachable as attributes of this module once their plugin is
  installed (``from conveyor.task_runners import DaskTaskRunner``, from
  ``conveyor-runner-dask``).

A flow's ``task_runner`` option chooses its runner; a flow without one uses the runner
``CONVEYOR_TASK_RUNNER`` names (``<name>[:<argument>]``, e.g. ``thread-pool:8``,
``dask`` or ``dask:tcp://scheduler:8786``), else a thread pool. The classes live in
:mod:`conveyor.runners.base`; plugins register theirs with the
``conveyor_register_task_runners`` hook.

May import: conveyor.exceptions, conveyor.plugins, conveyor.runners, conveyor.settings.
"""

from __future__ import annotations

from typing import Any

from conveyor import plugins
from conveyor.exceptions import SettingsError
from conveyor.runners.base import SequentialTaskRunner, TaskRunner, ThreadPoolTaskRunner
from conveyor.settings import task_runner_setting


def task_runner_classes() -> dict[str, type[TaskRunner]]:
    """Installed task runner classes by ``name``."""
    return plugins.task_runner_classes()  # type: ignore[return-value]


def runner_from_setting(text: str) -> TaskRunner:
    """The runner ``CONVEYOR_TASK_RUNNER=<name>[:<argument>]`` names (a one-line error if none)."""
    name, _, argument = text.partition(":")
    try:
        cls: type[TaskRunner] = plugins.task_runners().get(name.strip())
        return cls.from_setting(argument.strip())
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"CONVEYOR_TASK_RUNNER={text!r}: {exc}") from None
    except Exception as exc:  # an UnknownNameError with its install hint, a plugin's error
        raise SettingsError(f"CONVEYOR_TASK_RUNNER={text!r}: {exc}") from exc


def resolve_task_runner(value: TaskRunner | type[TaskRunner] | None) -> TaskRunner:
    """The ``task_runner`` option as an unstarted runner (default: ``CONVEYOR_TASK_RUNNER``,
    else a thread pool)."""
    if value is None:
        setting = task_runner_setting()
        return runner_from_setting(setting) if setting else ThreadPoolTaskRunner()
    if isinstance(value, type) and issubclass(value, TaskRunner):
        return value()
    if isinstance(value, TaskRunner):
        return value.duplicate()
    raise TypeError(
        f"task_runner must be a TaskRunner such as ThreadPoolTaskRunner(max_workers=4) or "
        f"SequentialTaskRunner(); got {type(value).__name__} {value!r}"
    )


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return plugins.task_runners().by_class_name(__name__, name)


__all__ = [
    "SequentialTaskRunner",
    "TaskRunner",
    "ThreadPoolTaskRunner",
    "resolve_task_runner",
    "runner_from_setting",
    "task_runner_classes",
]
