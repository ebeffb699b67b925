"""conveyor's log lines: the level setting, one line per run at its end, run loggers, prints.

At INFO each task run and flow run logs one line when it ends: its name (with its map
index or ``task_run_name``), final state, duration, where its result went with its size
(or "in memory", or the literal) and the policy's reason; Failed and Crashed at ERROR.
Pending, Running and retry states are DEBUG lines. :func:`get_run_logger` gives a logger
whose lines name the current run; ``log_prints=True`` sends ``print`` inside a run there.

When nothing else shows conveyor's lines, they go to stderr through
:class:`BatchedStderrHandler`: lines are written together (one write, not one per line)
at most :data:`LINE_BATCH_SECONDS` after they were logged, at once for WARNING and
above, at the end of every top-level run and at exit (Ctrl-C included). Only a process
killed outright (SIGKILL) can lose its last fraction of a second of lines; the runs
themselves are in the metadata database either way.

May import: conveyor.engine.context, conveyor.results, conveyor.settings, conveyor.states,
conveyor.units.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import contextvars
import logging
import os
import sys
import threading
import time
from typing import Any

from conveyor.engine.context import flow_run_context, task_run_context
from conveyor.results import ResultLiteral, ResultReference, UnpersistedResult
from conveyor.settings import get_settings
from conveyor.states import CRASHED, FAILED, FINAL_TYPES, State
from conveyor.units import format_size

logger = logging.getLogger("conveyor")
run_logger = logging.getLogger("conveyor.runs")

_handler_added = False
#: This process's id, kept in step at a fork (a held line asks it, without a system call).
_pid = [os.getpid()]
#: Most seconds a line waits in :class:`BatchedStderrHandler` before it is written.
LINE_BATCH_SECONDS = 0.2
_BATCH_BYTES = 64 << 10


class BatchedStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stderr handler that writes its lines in batches (see the module docstring).

    A write and flush per line costs a system call and a hand-off of the GIL to whatever
    thread is waiting (the metadata writer), which made the log line most of a trivial
    task's cost. Lines are kept in order and written by the next line past the batch
    limits, by a helper thread at most :data:`LINE_BATCH_SECONDS` later, or by
    :meth:`flush` (the end of a top-level run, ``logging.shutdown`` at exit).

    Holding a line takes no lock (a ``deque.append``); only a flush does, while it takes
    the lines off and writes them, so lines keep their order and a thread logging never
    waits for a write (it did, on every task thread, while the helper thread wrote).
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: collections.deque[str] = collections.deque()
        #: characters held: approximate under threads (it only decides when to write)
        self._size = 0
        #: the process whose helper thread is running (0: none; a forked child has none)
        self._flusher_pid = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging's own rule: a bad record is reported
            self.handleError(record)
            return
        self.hold(text, record.levelno)

    def hold(self, text: str, level: int) -> None:
        """Keep one formatted line (ending in a newline): written at once from WARNING up
        or past the batch size, else with the batch."""
        self._pending.append(text)
        self._size += len(text)
        if level >= logging.WARNING or self._size >= _BATCH_BYTES:
            self.flush()
        elif self._flusher_pid != _pid[0]:  # read after the append: see _flusher
            with self.lock:  # type: ignore[union-attr]
                if self._flusher_pid == _pid[0]:
                    return
                self._flusher_pid = _pid[0]
            threading.Thread(target=self._flusher, name="conveyor-log-lines", daemon=True).start()

    def _flusher(self) -> None:
        """Write held lines every LINE_BATCH_SECONDS; stop after a few idle rounds (the
        next held line starts another).

        It says it stopped before it looks at the held lines a last time: a line held
        before that is seen here (and the thread goes on), one held after finds no
        helper thread and starts the next."""
        idle = 0
        while True:
            time.sleep(LINE_BATCH_SECONDS)
            if self._pending:
                idle = 0
                self.flush()
                continue
            idle += 1
            if idle < 10:
                continue
            with self.lock:  # type: ignore[union-attr]
                self._flusher_pid = 0  # only this thread clears it
            if not self._pending:
                return
            with self.lock:  # type: ignore[union-attr]
                if self._flusher_pid:
                    return  # a line held meanwhile started the next helper thread
                self._flusher_pid = _pid[0]
            idle = 0

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            pending = self._pending
            if pending:
                self._size = 0
                text = "".join([pending.popleft() for _ in range(len(pending))])
                try:
                    self.stream.write(text)
                except Exception:  # noqa: BLE001 - a closed stderr must not fail a run
                    pass
            with contextlib.suppress(Exception):
                self.stream.flush()


def flush_lines() -> None:
    """Write out the lines the default stderr handler still holds (a top-level run ended)."""
    for handler in logger.handlers:
        if isinstance(handler, BatchedStderrHandler):
            handler.flush()


def _forked() -> None:
    _pid[0] = os.getpid()


if hasattr(os, "register_at_fork"):  # a forked child must not write its parent's lines again
    os.register_at_fork(before=flush_lines, after_in_child=_forked)
_LINE = sys._getframe().f_lineno  # where the records of run lines say they come from


class LineFormatter(logging.Formatter):
    """``asctime | LEVEL | message``; the date text is made once a second, not per line."""

    _second = -1
    _text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.stamp(record.created)

    def stamp(self, created: float) -> str:
        """The ``asctime`` of a line logged at ``created`` (seconds since the epoch)."""
        second = int(created)
        if second != self._second:
            self._text = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return self.default_msec_format % (self._text, (created - second) * 1000)  # type: ignore[operator]


#: The format of conveyor's own stderr lines.
LINE_FORMAT = "%(asctime)s | %(levelname)-7s | %(message)s"
#: conveyor's own stderr handler and its formatter, once configure_logging added them.
_own: tuple[BatchedStderrHandler, LineFormatter] | None = None


def _sole_sink(level: int) -> tuple[BatchedStderrHandler, LineFormatter] | None:
    """conveyor's own handler and formatter when a line at ``level`` would reach that
    handler and nothing else (no filter, no other handler, the stock record factory): the
    line is then formatted and held directly, reading exactly as through a LogRecord."""
    own = _own
    if own is None:
        return None
    handler, formatter = own
    handlers = logger.handlers
    if (len(handlers) != 1 or handlers[0] is not handler or logger.filters or logger.disabled
            or handler.filters or level < handler.level or handler.formatter is not formatter
            or logger.manager.disable >= level or (logger.propagate and logging.root.handlers)
            or logging.getLogRecordFactory() is not logging.LogRecord):
        return None
    return own


def configure_logging() -> bool:
    """Apply ``CONVEYOR_LOGGING_LEVEL``; add a stderr handler when nothing else shows logs.

    Returns the setting ``CONVEYOR_RESULTS_PERSIST_BY_DEFAULT`` read at the same time, so a
    top-level run reads the environment once.
    """
    global _handler_added, _own
    settings = get_settings()
    level = settings.logging_level
    if logger.level != logging.getLevelName(level):  # setLevel clears every logger's level cache
        logger.setLevel(level)
    if not _handler_added and not logger.handlers and not logging.getLogger().handlers:
        handler = BatchedStderrHandler()
        formatter = LineFormatter(LINE_FORMAT)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        _own = (handler, formatter)
        _handler_added = True
    return settings.persist_by_default


def state_level(state: State) -> int:
    """The level of a state's line: ERROR for Failed/Crashed, INFO for other final states,
    DEBUG for the states on the way (Pending, Running, AwaitingRetry, Retrying)."""
    kind = state.type
    if kind is FAILED or kind is CRASHED:
        return logging.ERROR
    return logging.INFO if kind in FINAL_TYPES else logging.DEBUG


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return "%d ms" % round(seconds * 1000)  # noqa: UP031 - an int: faster than a float format
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _result_part(state: State, where: str | None) -> str:
    data = state.data
    kind = type(data)
    if kind is ResultLiteral:
        return f"; result {data.value!r} (a literal, kept in the database)"  # type: ignore[union-attr]
    if kind is ResultReference:
        size = format_size(data.size)  # type: ignore[union-attr]
        return f"; written to {where} ({size})" if where else f"; read back ({size})"
    if kind is UnpersistedResult and state.type not in (FAILED, CRASHED):
        return "; result in memory only"
    return f"; written to {where}" if where else ""


_LEVEL_TEXT: dict[int, str] = {}


def _level_text(level: int) -> str:
    """``%(levelname)-7s`` of ``level``."""
    text = _LEVEL_TEXT.get(level)
    if text is None:
        text = _LEVEL_TEXT[level] = f"{logging.getLevelName(level):<7}"
    return text


def log_state(level: int, kind: str, label: str, run_id: str, state: State, where: str | None = None,
              started: float | None = None) -> None:
    """The line for one state of a run, at ``level`` (its :func:`state_level`, which the
    caller has found enabled: see the module docstring for which line at what level)."""
    message = state.message
    said = f": {message}" if message else ""
    if state.type in FINAL_TYPES:
        took = f" in {format_seconds(max(state.ts - started, 0.0))}" if started is not None else ""
        line = f"{kind} run {label} ({run_id}): {state.name}{took}{said}{_result_part(state, where)}"
        final = True
    else:
        line = f"{kind} run {label} ({run_id}): {state.name}{said}"
        final = False
    sink = _sole_sink(level)
    if sink is not None:  # only conveyor's own handler shows it: no LogRecord needed
        sink[0].hold(f"{sink[1].stamp(time.time())} | {_level_text(level)} | {line}\n", level)
    else:
        # The record is made directly: logger.log would walk the stack to find its
        # caller, which is always this function (a run's line costs about a third less).
        logger.handle(logger.makeRecord(logger.name, level, __file__, _LINE, line, (), None,
                                        "log_state"))
    if final and _handler_added and (kind == "flow" or flow_run_context.get() is None):
        flush_lines()  # a top-level run (or a subflow) ended: its lines are out now


# -- run loggers and prints -----------------------------------------------------------


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger whose lines start with the run they come from."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"{self.extra['run']}: {msg}", kwargs  # type: ignore[index]


def get_run_logger() -> logging.LoggerAdapter:  # type: ignore[type-arg]
    """A logger for the current task run or flow run (``conveyor.runs``); its lines name the
    run (``task run 'load' (id)``). Outside any run, a plain logger's lines say so."""
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        info = task_ctx.task_run
        where = f"task run {info.task_name!r} ({info.id})"
        extra = {"run": where, "task_run_id": info.id, "flow_run_id": info.flow_run_id}
    else:
        flow_ctx = flow_run_context.get()
        if flow_ctx is not None:
            info2 = flow_ctx.flow_run
            where = f"flow run {info2.flow_name!r} ({info2.id})"
            extra = {"run": where, "flow_run_id": info2.id}
        else:
            extra = {"run": "outside any run"}
    return RunLogger(run_logger, extra)


#: Set while a run with ``log_prints=True`` runs (its code, and tasks it calls).
printing_to_log: contextvars.ContextVar[bool] = contextvars.ContextVar("conveyor_log_prints", default=False)
_original_print = builtins.print
_installed = threading.Lock()


def _print(*args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None,
           flush: bool = False) -> None:
    if printing_to_log.get() and (file is None or file is sys.stdout):
        get_run_logger().info((sep if sep is not None else " ").join(str(a) for a in args))
        return
    _original_print(*args, sep=sep, end=end, file=file, flush=flush)


def install_print_to_log() -> None:
    """Route ``print`` to the run logger inside runs with ``log_prints=True`` (idempotent;
    everywhere else ``print`` behaves as before)."""
    with _installed:
        if builtins.print is not _print:
            builtins.print = _print


__all__ = [
    "LINE_BATCH_SECONDS",
    "LINE_FORMAT",
    "BatchedStderrHandler",
    "LineFormatter",
    "RunLogger",
    "configure_logging",
    "flush_lines",
    "format_seconds",
    "get_run_logger",
    "install_print_to_log",
    "log_state",
    "logger",
    "printing_to_log",
    "state_level",
]
