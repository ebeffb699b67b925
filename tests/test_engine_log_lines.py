"""The default stderr handler writes run lines in batches and loses none of them."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conveyor import flow, task
from conveyor.engine import logs


@pytest.fixture
def batched(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """conveyor's own handler on a StringIO, as configure_logging adds it."""
    handler = logs.BatchedStderrHandler()
    stream = io.StringIO()
    handler.setStream(stream)
    handler.setFormatter(logs.LineFormatter("%(levelname)s %(message)s"))
    conveyor_logger = logging.getLogger("conveyor")
    monkeypatch.setattr(conveyor_logger, "handlers", [handler])
    monkeypatch.setattr(logs, "_handler_added", True)
    monkeypatch.setattr(logs, "LINE_BATCH_SECONDS", 3600.0)  # only the rules below write
    monkeypatch.setenv("CONVEYOR_LOGGING_LEVEL", "INFO")
    monkeypatch.setattr(conveyor_logger, "propagate", False)
    yield stream
    handler.flush()


def test_every_line_of_a_flow_is_written_when_it_returns(batched: io.StringIO) -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    @flow
    def doubles(n: int) -> int:
        return sum(double(i) for i in range(n))

    assert doubles(50) == 2450
    text = batched.getvalue()
    assert text.count("task run 'double") == 50 and "flow run 'doubles'" in text
    assert text.rindex("task run 'double") < text.index("flow run 'doubles'")  # in order


def test_lines_wait_for_the_batch_and_warnings_go_at_once(batched: io.StringIO) -> None:
    log = logging.getLogger("conveyor")
    log.info("first")
    log.info("second")
    assert batched.getvalue() == ""  # held for the batch
    log.warning("third")
    assert batched.getvalue().splitlines() == ["INFO first", "INFO second", "WARNING third"]


def test_a_task_called_outside_any_flow_writes_its_line_when_it_returns(batched: io.StringIO) -> None:
    @task
    def alone() -> int:
        return 1

    assert alone() == 1
    assert "task run 'alone" in batched.getvalue()


def test_the_last_lines_reach_stderr_at_exit(tmp_path: Path) -> None:
    code = (
        "from conveyor import flow, task\n"
        "import logging\n"
        "@task\n"
        "def one(): return 1\n"
        "@flow\n"
        "def f():\n"
        "    one()\n"
        "    logging.getLogger('conveyor').info('the very last line')\n"
        "f()\n"
        "logging.getLogger('conveyor').info('after the run')\n"
    )
    env = {**os.environ, "CONVEYOR_HOME": str(tmp_path / "h"), "CONVEYOR_LOGGING_LEVEL": "INFO",
           "CONVEYOR_LOCAL_STORAGE_PATH": str(tmp_path / "r")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True, timeout=120)
    assert "task run 'one" in done.stderr and "flow run 'f'" in done.stderr
    assert "the very last line" in done.stderr and done.stderr.rstrip().endswith("after the run")


@pytest.fixture
def own(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """conveyor's own handler and formatter, as configure_logging adds them, on a StringIO."""
    handler = logs.BatchedStderrHandler()
    stream = io.StringIO()
    handler.setStream(stream)
    formatter = logs.LineFormatter(logs.LINE_FORMAT)
    handler.setFormatter(formatter)
    conveyor_logger = logging.getLogger("conveyor")
    monkeypatch.setattr(conveyor_logger, "handlers", [handler])
    monkeypatch.setattr(conveyor_logger, "propagate", False)
    monkeypatch.setattr(logs, "_handler_added", True)
    monkeypatch.setattr(logs, "_own", (handler, formatter))
    monkeypatch.setenv("CONVEYOR_LOGGING_LEVEL", "INFO")
    yield stream
    handler.flush()


def _only_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take away the handlers pytest adds to the logger for the test's own body."""
    monkeypatch.setattr(logging.getLogger("conveyor"), "handlers", [logs._own[0]])  # type: ignore[index]


def _shape(line: str) -> str:
    """A run line with its time, run id and duration blanked out."""
    line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", "<time> ", line)
    line = re.sub(r"\([0-9a-f-]{36}\)", "(<id>)", line)
    return re.sub(r" in \d+ ms", " in <n> ms", line)


def test_a_line_written_without_a_log_record_reads_the_same(own: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    # With only conveyor's own handler listening, a run's line skips the LogRecord; with
    # a filter on the logger (anything else listening) it goes through logging: the two
    # lines read the same.
    @task
    def same() -> int:
        return 5

    _only_own(monkeypatch)
    conveyor_logger = logging.getLogger("conveyor")
    made: list[str] = []
    make = conveyor_logger.makeRecord

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        made.append(str(args[4]))
        return make(*args, **kwargs)  # type: ignore[arg-type]

    conveyor_logger.makeRecord = counting  # type: ignore[method-assign]
    try:
        same()
        assert made == []  # no LogRecord for the line
    finally:
        del conveyor_logger.makeRecord
    fast = own.getvalue().splitlines()
    keep_all = logging.Filter()
    conveyor_logger.addFilter(keep_all)
    try:
        same()
    finally:
        conveyor_logger.removeFilter(keep_all)
    slow = own.getvalue().splitlines()[len(fast):]
    assert len(fast) == len(slow) == 1
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \| INFO    \| task run 'same' ", fast[0])
    assert _shape(fast[0]) == _shape(slow[0])


def test_a_handler_added_later_still_gets_every_line(own: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    @task
    def seen() -> int:
        return 1

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    _only_own(monkeypatch)
    monkeypatch.setattr(logging.getLogger("conveyor"), "propagate", True)
    monkeypatch.setattr(logging.root, "handlers", [Keep()])  # e.g. basicConfig after a first run
    seen()
    assert [r.getMessage() for r in records if "task run 'seen'" in r.getMessage()]
    assert "task run 'seen'" in own.getvalue()


class _SlowStream(io.StringIO):
    """A stream whose writes wait for a gate (a slow terminal, a full pipe)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.writing = threading.Event()

    def write(self, text: str) -> int:
        self.writing.set()
        self.gate.wait(30)
        return super().write(text)


def test_holding_a_line_never_waits_for_a_write_in_progress() -> None:
    handler = logs.BatchedStderrHandler()
    stream = _SlowStream()
    handler.setStream(stream)
    handler.hold("one\n", logging.INFO)
    flusher = threading.Thread(target=handler.flush)
    flusher.start()
    assert stream.writing.wait(10)  # the flush holds the handler's lock, writing
    held = threading.Thread(target=handler.hold, args=("two\n", logging.INFO))
    held.start()
    held.join(5)
    stalled = held.is_alive()
    stream.gate.set()
    flusher.join(10)
    held.join(10)
    assert not stalled  # it returned while the write was still in progress
    handler.flush()
    assert stream.getvalue() == "one\ntwo\n"


def test_lines_held_by_many_threads_are_each_written_once_in_order() -> None:
    handler = logs.BatchedStderrHandler()
    stream = io.StringIO()
    handler.setStream(stream)

    def produce(k: int) -> None:
        for i in range(2000):
            handler.hold(f"{k} {i}\n", logging.INFO)
            if i % 250 == 0:
                handler.flush()

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    handler.flush()
    seen: dict[int, list[int]] = {k: [] for k in range(6)}
    for line in stream.getvalue().splitlines():
        k, i = map(int, line.split())
        seen[k].append(i)
    assert all(seen[k] == list(range(2000)) for k in range(6))  # none lost, none twice, in order


def test_the_helper_thread_stops_when_idle_and_the_next_line_starts_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logs, "LINE_BATCH_SECONDS", 0.01)
    handler = logs.BatchedStderrHandler()
    stream = io.StringIO()
    handler.setStream(stream)
    for round_ in range(3):
        handler.hold(f"line {round_}\n", logging.INFO)
        deadline = time.monotonic() + 10
        while f"line {round_}" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert f"line {round_}\n" in stream.getvalue()  # written by the helper thread
        while handler._flusher_pid and time.monotonic() < deadline:
            time.sleep(0.01)  # ten idle rounds: the helper stops
        assert handler._flusher_pid == 0
