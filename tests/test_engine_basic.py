"""The engine: decorators, calls, states, futures, map, async, subflows, runners, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from conveyor import flow, get_client, task
from conveyor.exceptions import ConfigurationError
from conveyor.futures import ConveyorFuture
from conveyor.states import State, StateType
from conveyor.task_runners import SequentialTaskRunner, ThreadPoolTaskRunner
from conveyor.tasks import unmapped


@task
def add(x, y=1):
    return x + y


@task(name="times", retries=0)
def mul(x, y):
    return x * y


def test_bare_and_configured_decorators_run_in_a_flow():
    @flow
    def pipeline(n):
        return mul(add(n), 10)

    @flow(name="named-pipeline", retries=1)
    def named(n):
        return add(n, y=5)

    assert pipeline(2) == 30
    assert named(1) == 6
    assert mul.name == "times" and named.name == "named-pipeline"
    names = [r.flow_name for r in get_client().read_flow_runs()]
    assert names == ["named-pipeline", "pipeline"]


def test_with_options_returns_a_changed_copy():
    changed = add.with_options(name="add2", retries=2)
    assert changed.name == "add2" and changed.retries == 2
    assert add.name == "add" and add.retries == 0
    f2 = flow(lambda: 1).with_options(name="other", timeout_seconds=3)
    assert f2.name == "other" and f2.timeout_seconds == 3
    with pytest.raises(TypeError, match=r"with_options\(\) of task 'add' got unknown option\(s\) bogus"):
        add.with_options(bogus=1)
    with pytest.raises(TypeError, match=r"of flow 'other' got unknown option\(s\) cache_key_fn; options: cache_result_in_memory, flow_run_name, log_prints, name"):
        f2.with_options(cache_key_fn=None)


def test_return_state_for_flow_and_task():
    @flow
    def pipeline():
        state = add(1, return_state=True)
        assert isinstance(state, State) and state.is_completed()
        return state.result()

    state = pipeline(return_state=True)
    assert isinstance(state, State)
    assert state.type is StateType.COMPLETED and state.name == "Completed"
    assert state.result() == 2
    assert get_client().read_flow_run(state.run_id).state.name == "Completed"


def test_flow_failure_raises_the_original_exception():
    class Boom(Exception):
        pass

    err = Boom("bad input")

    @task
    def explode():
        raise err

    @flow
    def pipeline():
        return explode()

    with pytest.raises(Boom) as info:
        pipeline()
    assert info.value is err
    state = pipeline(return_state=True)
    assert state.is_failed() and state.name == "Failed"
    assert "Boom: bad input" in state.message
    assert isinstance(state.result(raise_on_failure=False), Boom)
    with pytest.raises(Boom):
        state.result()
    (run,) = get_client().read_task_runs(state.run_id)
    assert run.state.is_failed() and run.task_name == "explode"


def test_task_outside_a_flow_is_its_own_run():
    state = add(41, return_state=True)
    assert state.result() == 42
    run = get_client().read_task_run(state.run_id)
    assert run.flow_run_id is None and run.task_name == "add" and run.state.is_completed()
    assert add(1) == 2


def test_submit_returns_futures_and_futures_as_arguments_are_resolved():
    seen = []

    @task
    def slow(x):
        time.sleep(0.05)
        seen.append(threading.current_thread().name)
        return x

    @flow
    def pipeline():
        a = slow.submit(1)
        b = slow.submit(2)
        assert isinstance(a, ConveyorFuture)
        c = add.submit(a, y=b)  # futures resolved before add runs
        d = add(c, [a, b][0])  # direct call with futures too
        c.wait()
        assert c.state.is_completed()
        return {"c": c.result(timeout=5), "d": d}

    assert pipeline() == {"c": 3, "d": 4}
    assert all(name.startswith("conveyor-task") for name in seen)


def test_map_over_iterables_with_unmapped_arguments():
    @flow
    def pipeline():
        futures = add.map([1, 2, 3], y=unmapped(10))
        pairs = mul.map(range(3), [5, 6, 7])
        return [f.result() for f in futures], [f.result() for f in pairs]

    assert pipeline() == ([11, 12, 13], [0, 6, 14])
    with pytest.raises(ConfigurationError, match="different lengths"):
        flow(lambda: add.map([1, 2], [1]))()


def test_failed_upstream_future_fails_the_downstream_run_without_running_it():
    calls = []

    @task
    def bad():
        raise ValueError("upstream broke")

    @task
    def after(x):
        calls.append(x)

    @flow
    def pipeline():
        fut = after.submit(bad.submit())
        # in a list: a State returned by itself would become the flow's own final state
        return [fut.state if fut.wait() is None else None]

    (state,) = pipeline()
    assert state.is_failed() and "upstream" in state.message
    assert calls == []


def test_future_result_timeout_and_raise_on_failure():
    @task
    def nap():
        time.sleep(0.5)

    @task
    def bad():
        raise KeyError("k")

    @flow
    def pipeline():
        fut = nap.submit()
        with pytest.raises(TimeoutError, match="did not finish within"):
            fut.result(timeout=0.01)
        assert fut.state.type in (StateType.PENDING, StateType.RUNNING)
        b = bad.submit()
        assert isinstance(b.result(raise_on_failure=False), KeyError)
        with pytest.raises(KeyError):
            b.result()
        return fut.result()

    assert pipeline() is None


def test_sequential_runner_and_thread_pool_runner():
    names = []

    @task
    def where():
        names.append(threading.current_thread().name)

    @flow(task_runner=SequentialTaskRunner())
    def seq():
        fut = where.submit()
        assert fut.done()

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def pool():
        where.submit().wait()

    seq()
    pool()
    assert names[0] == threading.current_thread().name
    assert names[1].startswith("conveyor-task")
    with pytest.raises(TypeError, match="task_runner must be"):
        flow(task_runner="threads")(lambda: None)


def test_async_flows_and_tasks():
    @task
    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    @flow
    async def pipeline(x):
        y = await double(x)
        fut = double.submit(y)
        return fut.result() + add(1)

    assert asyncio.run(pipeline(3)) == 14

    @flow
    def sync_pipeline():
        return double(5)  # an async task called from a sync flow runs to completion

    assert sync_pipeline() == 10


def test_async_flow_failure_and_return_state():
    @flow
    async def broken():
        raise RuntimeError("async boom")

    with pytest.raises(RuntimeError, match="async boom"):
        asyncio.run(broken())
    state = asyncio.run(broken(return_state=True))
    assert state.is_failed()


def test_subflow_is_its_own_run_linked_to_its_parent():
    @flow
    def child(x):
        return add(x)

    @task
    def calls_child():
        return child(100)

    @flow
    def parent():
        return child(1) + calls_child()

    state = parent(return_state=True)
    assert state.result() == 2 + 101
    client = get_client()
    runs = {r.id: r for r in client.read_flow_runs()}
    children = [r for r in runs.values() if r.flow_name == "child"]
    assert len(children) == 2
    assert all(r.parent_flow_run_id == state.run_id for r in children)
    parent_tasks = {t.id: t for t in client.read_task_runs(state.run_id)}
    for r in children:
        assert r.parent_task_run_id in parent_tasks
    assert {parent_tasks[r.parent_task_run_id].task_name for r in children} == {"child", "calls_child"}


def test_flow_timeout():
    @flow(timeout_seconds=0.2)
    def sleepy():
        time.sleep(2)

    with pytest.raises(TimeoutError, match="timeout_seconds=0.2"):
        sleepy()
    (run,) = get_client().read_flow_runs()
    assert run.state.is_failed() and run.state.name == "TimedOut"

    @flow(timeout_seconds=0.2)
    async def sleepy_async():
        await asyncio.sleep(2)

    with pytest.raises(TimeoutError):
        asyncio.run(sleepy_async())


def test_keyboard_interrupt_marks_the_run_crashed():
    @task
    def interrupted():
        raise KeyboardInterrupt

    @flow
    def pipeline():
        interrupted()

    with pytest.raises(KeyboardInterrupt):
        pipeline()
    client = get_client()
    (run,) = client.read_flow_runs()
    assert run.state.is_crashed() and run.state.type is StateType.CRASHED
    (task_run,) = client.read_task_runs(run.id)
    assert task_run.state.is_crashed()


def test_every_state_change_is_recorded_with_timestamps():
    @flow
    def pipeline():
        add(1)
        add.submit(2).wait()

    state = pipeline(return_state=True)
    client = get_client()
    flow_states = [s.name for s in client.read_states(state.run_id)]
    assert flow_states == ["Running", "Completed"]
    direct, submitted = client.read_task_runs(state.run_id)
    assert [s.name for s in client.read_states(direct.id)] == ["Running", "Completed"]
    assert [s.name for s in client.read_states(submitted.id)] == ["Pending", "Running", "Completed"]
    assert direct.start_time is not None and direct.end_time >= direct.start_time
    assert direct.run_count == 1 and direct.state.timestamp.tzinfo is not None


def test_option_values_are_checked_when_decorating():
    with pytest.raises(ConfigurationError, match="retries=-1"):
        task(retries=-1)(lambda: 1)
    with pytest.raises(TypeError, match="result_storage"):
        task(result_storage=3)(lambda: 1)
    with pytest.raises(TypeError, match="cache_expiration"):
        task(cache_expiration=10)(lambda: 1)
    with pytest.raises(ConfigurationError, match="timeout_seconds"):
        flow(timeout_seconds=0)(lambda: 1)


def test_logging_one_line_per_run_at_its_end(caplog, monkeypatch):
    caplog.set_level("INFO", logger="conveyor")

    @flow(persist_result=True)
    def pipeline():
        return add(1)

    pipeline()
    lines = [r.getMessage() for r in caplog.records if r.name == "conveyor"]
    assert len(lines) == 2  # at INFO: one line per run, when it ends
    for line in lines:  # the state, how long, what was persisted, why (the rule), where, size
        assert "Completed in " in line and " ms: result persisted: persist_result=True on " in line
        assert "(rule " in line and "; written to " in line and " B)" in line
    assert lines[0].startswith("task run 'add'") and "(rule 3); written to" in lines[0]
    assert lines[1].startswith("flow run 'pipeline'") and "(rule 1); written to" in lines[1]
    caplog.clear()
    caplog.set_level("DEBUG", logger="conveyor")
    monkeypatch.setenv("CONVEYOR_LOGGING_LEVEL", "DEBUG")
    pipeline()
    lines = [r.getMessage() for r in caplog.records if r.name == "conveyor"]
    assert len(lines) == 4  # at DEBUG: every state change
    assert lines[0].startswith("flow run 'pipeline'") and lines[0].endswith("Running")
    assert lines[1].startswith("task run 'add'") and lines[1].endswith("Running")


def test_mapped_runs_log_their_index_and_long_maps_log_progress(caplog, monkeypatch):
    from conveyor.engine import progress

    monkeypatch.setattr(progress, "PROGRESS_EVERY", 0.0)
    caplog.set_level("INFO", logger="conveyor")

    @task
    def clean(x):
        if x == 2:
            raise ValueError("bad row")
        return x

    @flow
    def pipeline():
        return [f.state.name for f in clean.map(range(4)) if f.wait() is None]

    pipeline(return_state=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "conveyor"]
    assert any(line.startswith("task run 'clean'[2] (") and ": Failed in " in line for line in lines)
    progress_lines = [line for line in lines if ": clean: " in line]
    # worker threads log in any order: one of the lines is the last count
    assert progress_lines and all(line.endswith(" s") for line in progress_lines)
    assert any("4/4 done, 1 failed" in line for line in progress_lines)


def test_get_run_logger_and_log_prints(caplog):
    from conveyor import get_run_logger

    caplog.set_level("INFO", logger="conveyor")

    @task(log_prints=True)
    def talk():
        get_run_logger().info("from the logger")
        print("from print", 42)

    @task
    def quiet():
        print("to stdout")

    @flow
    def pipeline():
        talk()
        quiet()

    pipeline()
    messages = [r.getMessage() for r in caplog.records if r.name == "conveyor.runs"]
    assert len(messages) == 2
    assert messages[0].startswith("task run 'talk' (") and messages[0].endswith("): from the logger")
    assert messages[1].endswith("): from print 42")
    assert get_run_logger().extra["run"] == "outside any run"


def test_conveyor_logging_level_setting(monkeypatch, caplog):
    caplog.set_level("DEBUG", logger="conveyor")
    monkeypatch.setenv("CONVEYOR_LOGGING_LEVEL", "WARNING")

    @flow
    def quiet():
        return add(1)

    quiet()
    assert [r for r in caplog.records if r.name == "conveyor"] == []
    monkeypatch.setenv("CONVEYOR_LOGGING_LEVEL", "INFO")
    quiet()
    assert len([r for r in caplog.records if r.name == "conveyor" and r.levelname == "INFO"]) == 2
