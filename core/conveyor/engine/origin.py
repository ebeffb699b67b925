"""Where a flow run comes from: its flow's definition, its parameters, its process.

So that a run can be resumed from another process, a top-level flow run records where
its flow is defined (``module:qualname``, or ``/path/script.py:qualname`` for a flow in
a script run as ``__main__``), keeps its parameters *by reference* (persisted with the
flow's own storage and serializer, never as data in the metadata database), and names
the process running it (host, pid, the process's start time), so that a later process
can tell a run whose process is gone and mark it Crashed.

May import: conveyor.engine.destination, conveyor.engine.logs, conveyor.exceptions,
conveyor.results.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.engine.logs import logger
from conveyor.exceptions import ConfigurationError, ConveyorError
from conveyor.results import ResultReference, result_from_json

if TYPE_CHECKING:
    from conveyor.engine.destination import ResultDestination
    from conveyor.flows import Flow

#: What the ``parameters`` column holds for a flow run that takes no parameters.
NO_PARAMETERS = '{"type":"no-parameters"}'


# -- the flow's definition ------------------------------------------------------------


def flow_ref(fn: Any) -> str | None:
    """``module:qualname`` of a flow's function (a script's path for ``__main__``), or None."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname:
        return None
    if module == "__main__":
        path = getattr(sys.modules.get("__main__"), "__file__", None)
        if not path:
            return None  # an interactive session: nothing to import later
        return f"{Path(path).resolve()}:{qualname}"
    return f"{module}:{qualname}"


def import_flow(ref: str) -> Flow[Any]:
    """The flow a run recorded as ``ref``; a one-line ConfigurationError when it cannot be had."""
    source, _, qualname = ref.rpartition(":")
    hint = "pass the flow itself instead: my_flow.resume(run_id) in Python"
    if "<locals>" in qualname:
        raise ConfigurationError(
            f"flow {ref!r} is defined inside a function and cannot be imported; {hint}"
        )
    try:
        if source.endswith(".py"):
            spec = importlib.util.spec_from_file_location("conveyor_resumed_script", source)
            if spec is None or spec.loader is None or not os.path.exists(source):
                raise FileNotFoundError(f"no script at {source}")
            module: Any = importlib.util.module_from_spec(spec)
            sys.modules.setdefault("conveyor_resumed_script", module)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(source)
        target: Any = module
        for part in qualname.split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise ConfigurationError(
            f"the flow of this run ({ref}) cannot be imported: {type(exc).__name__}: {exc}; "
            f"run from the folder the flow was run from (or fix PYTHONPATH), or {hint}"
        ) from exc
    if not hasattr(target, "fn") or not hasattr(target, "retries"):
        raise ConfigurationError(f"{ref} is not a conveyor flow (no @flow on it); {hint}")
    return target  # type: ignore[no-any-return]


# -- parameters -----------------------------------------------------------------------


def bind_parameters(flow: Flow[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults applied; a clear TypeError if they do not fit."""
    try:
        bound = inspect.signature(flow.fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"flow {flow.name!r}: {exc}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def keep_parameters(flow: Flow[Any], parameters: dict[str, Any], destination: ResultDestination,
                    key: str | None = None, run_id: str | None = None) -> str | None:
    """Persist ``parameters`` (not empty: a run without any records :data:`NO_PARAMETERS`,
    writing nothing) at ``destination``; the JSON to record (None: not kept).

    Only the reference goes into the metadata database. A value the serializer refuses
    means the parameters are not kept: the run goes on, and resuming it needs them given.
    """
    try:
        return destination.persist(parameters, key, run_id=run_id).json()
    except (ConveyorError, OSError) as exc:
        logger.info("the parameters of flow %r are not kept (resuming its run will need them): %s",
                    flow.name, exc)
        return None


def load_parameters(recorded: str | None) -> dict[str, Any] | None:
    """The parameters a run kept (None: not kept); read back and verified through their reference."""
    if recorded is None:
        return None
    if recorded == NO_PARAMETERS:
        return {}
    reference = result_from_json(recorded)
    if type(reference) is not ResultReference:
        return None
    value = reference.get()
    return dict(value) if isinstance(value, dict) else None


# -- the process ----------------------------------------------------------------------


def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (unix time, to the clock tick), or None when it cannot be told."""
    boot = _boot_time()
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    if boot is None or len(fields) < 20:
        return None
    return round(boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"), 2)


def _host_name() -> str:
    if hasattr(os, "uname"):
        return os.uname().nodename  # no import of socket (milliseconds at start-up) for it
    import socket  # lazy: only where os.uname is missing (Windows)

    return socket.gethostname()


HOST = _host_name()
_PROCESS: tuple[int, float | None] | None = None


def this_process() -> tuple[str, int, float | None]:
    """(host, pid, start time) of this process (recomputed after a fork)."""
    global _PROCESS
    pid = os.getpid()
    if _PROCESS is None or _PROCESS[0] != pid:
        _PROCESS = (pid, process_start_time(pid) or round(time.time(), 2))
    return HOST, pid, _PROCESS[1]


def process_is_gone(host: str | None, pid: int | None, started: float | None) -> bool:
    """Whether the process that recorded (host, pid, start) has certainly ended (same host only)."""
    if host != HOST or pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    now = process_start_time(pid)
    return started is not None and now is not None and abs(now - started) > 1.0


__all__ = [
    "NO_PARAMETERS",
    "bind_parameters",
    "flow_ref",
    "import_flow",
    "keep_parameters",
    "load_parameters",
    "process_is_gone",
    "process_start_time",
    "this_process",
]
