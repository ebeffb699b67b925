"""The decorator language a Prefect user knows: run names, tags, task timeouts, wait_for,
allow_failure, as_completed, state hooks, flows returning states, parameter checks,
saved block instances recorded by slug (issue: install it like a real package...)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from conveyor import allow_failure, as_completed, flow, get_client, task, unmapped
from conveyor.cli import main
from conveyor.exceptions import ConfigurationError
from conveyor.filesystems import LocalFileSystem
from conveyor.states import Cancelled, Completed, Failed, StateType


def test_the_top_level_names():
    import conveyor
    from conveyor.futures import allow_failure as af
    from conveyor.tasks import unmapped as um

    assert conveyor.unmapped is um and conveyor.allow_failure is af
    assert callable(as_completed)


# -- run names and tags -------------------------------------------------------------------


def test_run_names_from_templates_and_callables_are_recorded_and_shown(capsys):
    @task(task_run_name="fetch-{day}", tags=["io", "nightly"])
    def fetch(day):
        return day

    @task(task_run_name=lambda: "computed-name")
    def other():
        return 1

    @flow(flow_run_name="daily-{day}", tags=["prod"])
    def daily(day: str):
        fetch(day)
        other()
        return day

    state = daily("2024-01-31", return_state=True)
    run = get_client().read_flow_run(state.run_id)
    assert run.run_name == "daily-2024-01-31" and run.tags == ("prod",)
    tasks = get_client().read_task_runs(run.id)
    assert [(t.run_name, t.tags) for t in tasks] == [
        ("fetch-2024-01-31", ("io", "nightly")), ("computed-name", ()),
    ]
    assert main(["runs", "ls"]) == 0
    assert "daily (daily-2024-01-31)" in capsys.readouterr().out
    assert main(["runs", "show", run.id]) == 0
    out = capsys.readouterr().out
    assert "name     daily-2024-01-31" in out and "tags     prod" in out
    assert "fetch (fetch-2024-01-31)" in out
    assert main(["runs", "show", tasks[0].id]) == 0
    assert "tags     io, nightly" in capsys.readouterr().out


def test_bad_names_and_tags_are_refused_with_the_option_named(caplog):
    with pytest.raises(TypeError, match="task_run_name on task 't' must be a str template"):
        task(name="t", task_run_name=42)(lambda: 1)
    with pytest.raises(TypeError, match=r"tags on flow 'f' must be a list of str"):
        flow(name="f", tags="nightly")(lambda: 1)

    @task(task_run_name="run-{missing}")
    def unnamed(x):
        return x

    with caplog.at_level(logging.WARNING, logger="conveyor"):
        assert unnamed(1) == 1  # the run goes on, without a name
    assert "task_run_name 'run-{missing}' of task 'unnamed' cannot be filled" in caplog.text


# -- task timeouts ------------------------------------------------------------------------


def test_a_task_past_its_timeout_is_timed_out_and_retried():
    attempts = []

    @task(timeout_seconds=0.2, retries=1)
    def slow():
        attempts.append(1)
        if len(attempts) == 1:
            time.sleep(2)
        return "fast enough"

    started = time.monotonic()
    assert slow() == "fast enough"
    assert time.monotonic() - started < 1.5
    assert len(attempts) == 2

    @task(timeout_seconds=0.1)
    def always_slow():
        time.sleep(1)

    state = always_slow(return_state=True)
    assert state.type is StateType.FAILED and state.name == "TimedOut"
    assert "exceeded timeout_seconds=0.1" in state.message


def test_an_async_task_past_its_timeout_is_cancelled():
    import asyncio

    @task(timeout_seconds=0.1)
    async def nap():
        await asyncio.sleep(2)

    @flow
    def pipeline():
        return nap(return_state=True).name

    assert pipeline() == "TimedOut"


# -- wait_for, allow_failure, as_completed ------------------------------------------------


def test_wait_for_orders_runs_and_a_failed_upstream_stops_them():
    order = []
    lock = threading.Lock()

    @task
    def first():
        time.sleep(0.2)
        with lock:
            order.append("first")

    @task
    def second(x):
        with lock:
            order.append(f"second-{x}")
        return x

    @task
    def broken():
        raise ValueError("upstream broke")

    @flow
    def pipeline():
        a = first.submit()
        b = second.submit(1, wait_for=[a])
        mapped = second.map([2, 3], wait_for=[a])
        direct = second(4, wait_for=[b])
        bad = broken.submit()
        skipped = second.submit(5, wait_for=[bad])
        tolerant = second.submit(6, wait_for=[allow_failure(bad)])
        skipped.wait()
        return b.result(), [m.result() for m in mapped], direct, skipped.state, tolerant.result()

    b, mapped, direct, skipped, tolerant = pipeline()
    assert (b, mapped, direct, tolerant) == (1, [2, 3], 4, 6)
    assert order.index("first") < order.index("second-1") < order.index("second-4")
    assert order.index("first") < order.index("second-2")
    assert skipped.is_failed() and "an upstream run it waits for failed: ValueError" in skipped.message
    assert "second-5" not in order


def test_allow_failure_hands_the_upstream_exception_on():
    @task
    def broken():
        raise KeyError("gone")

    @task
    def inspect(value):
        return type(value).__name__

    @flow
    def pipeline():
        return inspect(allow_failure(broken.submit()))

    assert pipeline() == "KeyError"


def test_as_completed_yields_the_first_finished_first():
    @task
    def wait(seconds):
        time.sleep(seconds)
        return seconds

    @flow
    def pipeline():
        futures = wait.map([0.4, 0.0, 0.2])
        return [f.result() for f in as_completed(futures)]

    assert pipeline() == [0.0, 0.2, 0.4]

    @flow
    def too_slow():
        futures = [wait.submit(1.0)]
        with pytest.raises(TimeoutError, match="1 of 1 task runs did not finish within 0.05 s"):
            list(as_completed(futures, timeout=0.05))
        return "ok"

    assert too_slow() == "ok"


def test_unmapped_from_the_top_level():
    @task
    def add(x, y):
        return x + y

    @flow
    def pipeline():
        return [f.result() for f in add.map([1, 2], unmapped(10))]

    assert pipeline() == [11, 12]


# -- state hooks ----------------------------------------------------------------------------


def test_on_completion_and_on_failure_hooks_of_tasks_and_flows(caplog):
    seen = []

    def record(obj, run, state):
        seen.append((obj.name, run.id == state.run_id, state.name))

    def broken_hook(obj, run, state):
        raise RuntimeError("hook broke")

    @task(on_completion=[record], on_failure=[record])
    def ok():
        return 1

    @task(retries=1, on_failure=[record, broken_hook])
    def bad():
        raise ValueError("no")

    @flow(on_completion=[record], on_failure=[record])
    def pipeline():
        ok()
        bad(return_state=True)
        return "done"

    with caplog.at_level(logging.ERROR, logger="conveyor"):
        assert pipeline() == "done"
    # once per final state: not for bad's first (retried) attempt
    assert seen == [("ok", True, "Completed"), ("bad", True, "Failed"), ("pipeline", True, "Completed")]
    assert "on_failure hook" in caplog.text and "hook broke" in caplog.text

    @flow(on_failure=[record])
    def failing():
        raise ValueError("flow fails")

    with pytest.raises(ValueError):
        failing()
    assert seen[-1] == ("failing", True, "Failed")
    with pytest.raises(TypeError, match="on_completion on task 'x' must be a list of functions"):
        task(name="x", on_completion=[1])(lambda: 1)


# -- flows returning states -----------------------------------------------------------------


def test_a_flow_that_returns_a_state_ends_in_it():
    @flow
    def done():
        return Completed(message="all good")

    state = done(return_state=True)
    assert state.type is StateType.COMPLETED and state.message == "all good"
    assert state.result() is None
    assert get_client().read_flow_run(state.run_id).state.message == "all good"

    @flow
    def refused():
        return Failed(message="input was empty")

    state = refused(return_state=True)
    assert state.type is StateType.FAILED and state.message == "input was empty"
    with pytest.raises(RuntimeError, match="returned a Failed state: input was empty"):
        refused()
    assert get_client().read_flow_run(state.run_id).state.name == "Failed"

    @flow
    def stopped():
        return Cancelled(message="nothing to do today")

    state = stopped(return_state=True)
    assert state.type is StateType.CANCELLED and state.message == "nothing to do today"
    assert get_client().read_flow_run(state.run_id).state.type is StateType.CANCELLED

    @task
    def value():
        return 41

    @flow
    def passes_on():
        return value(return_state=True)  # a task's Completed state: its value is the flow's

    assert passes_on() == 41


# -- parameters, block instances ------------------------------------------------------------


def test_flow_calls_are_checked_against_the_signature():
    @flow
    def daily(day: str, limit: int = 10):
        return day

    with pytest.raises(TypeError, match="flow 'daily': missing a required argument: 'day'"):
        daily()
    with pytest.raises(TypeError, match="flow 'daily': got an unexpected keyword argument 'dya'"):
        daily("2024-01-31", dya="x")
    assert get_client().read_flow_runs() == []  # nothing ran, nothing recorded


def test_a_saved_block_passed_as_an_instance_is_recorded_by_its_slug(tmp_path):
    LocalFileSystem(basepath=str(tmp_path / "prod")).save("prod")
    block = LocalFileSystem.load("prod")

    @task(result_storage=block)
    def make():
        return {"v": 1}

    @task(result_storage=LocalFileSystem(basepath=str(tmp_path / "unsaved")))
    def other():
        return {"v": 2}

    state = make(return_state=True)
    assert state.data.storage == "local-file-system/prod"
    assert other(return_state=True).data.storage.startswith("anonymous/")
    with pytest.raises(ConfigurationError):
        task(timeout_seconds=0)(lambda: 1)
