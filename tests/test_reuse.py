"""Flow retries reuse completed work; inferred persistence never breaks a run; mistakes
surface before work is done; cache_result_in_memory=False (issue: persisted results pay off).

Task bodies count their executions in a file, outside the process's memory.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from conveyor import flow, get_client, task
from conveyor.exceptions import (
    ConfigurationError,
    MissingResult,
    SerializationError,
    UnknownNameError,
)
from conveyor.filesystems import LocalFileSystem
from conveyor.results import ResultReference, UnpersistedResult


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """The default result folder of the test (``CONVEYOR_LOCAL_STORAGE_PATH``)."""
    return tmp_path / "conveyor-results"


def test_a_flow_retry_reuses_what_the_failed_attempt_persisted(calls):
    attempts = []

    @task(persist_result=True)
    def expensive(x):
        calls.record("expensive")
        return {"x": x * 2}

    @task
    def cheap(x):
        calls.record("cheap")
        return [x]

    @task
    def flaky():
        calls.record("flaky")
        if not attempts:
            attempts.append(1)
            raise RuntimeError("transient")
        return "ok"

    @flow(retries=1)
    def pipeline():
        a = expensive(1)
        b = cheap(2)  # not persisted: runs again
        flaky()
        return a, b

    state = pipeline(return_state=True)
    assert state.result() == ({"x": 2}, [2])
    assert calls() == ["expensive", "cheap", "flaky", "cheap", "flaky"]
    runs = get_client().read_task_runs(state.run_id)
    by_name = [(r.task_name, r.state.name) for r in runs]
    assert by_name == [
        ("expensive", "Completed"), ("cheap", "Completed"), ("flaky", "Failed"),
        ("expensive", "Reused"), ("cheap", "Completed"), ("flaky", "Completed"),
    ]
    first, reused = runs[0], runs[3]
    assert reused.state.message == f"reused the result of task run {first.id} (attempt 1 of flow run {state.run_id})"
    assert isinstance(reused.state.data, ResultReference)
    assert reused.state.data.key == first.state.data.key  # the same stored value, read back
    assert reused.state.result() == {"x": 2}


def test_only_the_same_call_with_the_same_inputs_is_reused(calls):
    attempt = []

    @task(persist_result=True)
    def double(x):
        calls.record(f"double-{x}")
        return x * 2

    @flow(retries=1)
    def pipeline():
        attempt.append(1)
        first = double(1)
        # the second call of double: input 2 in attempt 1, 3 in attempt 2 (not reused)
        second = double(2 if len(attempt) == 1 else 3)
        if len(attempt) == 1:
            raise RuntimeError("fail the first attempt")
        return first, second

    assert pipeline() == (2, 6)
    assert calls() == ["double-1", "double-2", "double-3"]


def test_inputs_that_cannot_be_hashed_are_never_reused(calls):
    attempt = []

    @task(persist_result=True)
    def use(resource, n):
        calls.record("use")
        return n

    @flow(retries=1)
    def pipeline():
        attempt.append(1)
        value = use(sqlite3.connect(":memory:"), 5)  # a connection cannot be pickled
        if len(attempt) == 1:
            raise RuntimeError("again")
        return value

    assert pipeline() == 5
    assert calls() == ["use", "use"]


def test_a_damaged_counterpart_runs_again(calls, results_dir, caplog):
    attempt = []

    @task(persist_result=True)
    def produce():
        calls.record("produce")
        return "v" * 100

    @flow(retries=1)
    def pipeline():
        attempt.append(1)
        value = produce()
        if len(attempt) == 1:
            for path in [p for p in results_dir.rglob("*") if p.is_file()]:  # damage every stored value
                data = bytearray(path.read_bytes())
                data[-60] ^= 0xFF
                path.write_bytes(bytes(data))
            raise RuntimeError("again")
        return value

    with caplog.at_level(logging.WARNING, logger="conveyor"):
        assert pipeline() == "v" * 100
    assert calls() == ["produce", "produce"]
    assert "cannot be reused for task 'produce', running it again" in caplog.text


def test_a_persisted_subflow_is_reused_whole_and_a_failed_one_reuses_its_tasks(calls):
    attempt = []

    @task(persist_result=True)
    def inner(x):
        calls.record(f"inner-{x}")
        return x + 1

    @flow(persist_result=True)
    def done_sub(x):
        calls.record("done_sub")
        return inner(x)

    @flow
    def failing_sub(x):
        calls.record("failing_sub")
        y = inner(x)
        if len(attempt) == 1:
            raise RuntimeError("subflow fails in the first attempt")
        return y

    @flow(retries=1)
    def parent():
        attempt.append(1)
        a = done_sub(1)
        b = failing_sub(10)
        return a, b

    state = parent(return_state=True)
    assert state.result() == (2, 11)
    # done_sub ran once; failing_sub ran twice, but its inner task only once
    assert calls() == ["done_sub", "inner-1", "failing_sub", "inner-10", "failing_sub"]
    runs = get_client().read_task_runs(state.run_id)
    assert [(r.task_name, r.state.name) for r in runs] == [
        ("done_sub", "Completed"), ("failing_sub", "Failed"),
        ("done_sub", "Reused"), ("failing_sub", "Completed"),
    ]
    second_sub = [f for f in get_client().read_subflow_runs(state.run_id) if f.flow_name == "failing_sub"][-1]
    inner_runs = get_client().read_task_runs(second_sub.id)
    assert [(r.task_name, r.state.name) for r in inner_runs] == [("inner", "Reused")]


# -- inferred persistence never breaks a run --------------------------------------------


def test_an_unpicklable_value_under_inferred_persistence_stays_in_memory(calls, caplog):
    failures = []

    @task(retries=2)
    def connect():
        calls.record("connect")
        if not failures:
            failures.append(1)
            raise ConnectionError("first try fails")
        return sqlite3.connect(":memory:")

    @task
    def query(conn):
        return conn.execute("SELECT 41 + 1").fetchone()[0]

    @flow
    def pipeline():
        return query(connect())

    with caplog.at_level(logging.WARNING, logger="conveyor"):
        state = pipeline(return_state=True)
    assert state.result() == 42
    assert calls() == ["connect", "connect"]  # the retry still worked, in-process
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "kept in memory" in r.getMessage()]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "'connect'" in text and "'pickle'" in text and "Connection" in text
    run = next(r for r in get_client().read_task_runs(state.run_id) if r.task_name == "connect")
    assert run.state.name == "Completed"
    assert isinstance(run.state.data, UnpersistedResult)
    assert "result kept in memory only" in run.state.message and "retries" in run.state.message


def test_an_inferred_cache_entry_is_simply_not_written(calls):
    from conveyor.tasks import task_input_hash

    @task(cache_key_fn=task_input_hash)
    def connect(n):
        calls.record("connect")
        return sqlite3.connect(":memory:")

    @flow
    def pipeline():
        connect(1)
        return "done"

    assert pipeline() == "done"
    assert pipeline() == "done"
    assert calls() == ["connect", "connect"]  # no cache entry: it runs each time


def test_explicit_persistence_that_the_serializer_refuses_is_an_error_naming_its_origin():
    @task(result_serializer="json")
    def own():
        return {1, 2, object()}

    with pytest.raises(SerializationError, match="result_serializer='json' of task 'own'"):
        own()

    @task
    def inherits():
        return object()

    @flow(result_serializer="json", persist_result=True)
    def orders():
        return inherits()

    with pytest.raises(SerializationError, match="task 'inherits' uses result_serializer='json' of flow 'orders'"):
        orders()


# -- mistakes surface before work is done -------------------------------------------------


def test_an_unknown_serializer_name_is_refused_at_decoration():
    with pytest.raises(UnknownNameError, match=r"task 'load': result_serializer='jsn': unknown serializer 'jsn'"):
        @task(result_serializer="jsn")
        def load():
            return 1

    with pytest.raises(UnknownNameError, match=r"flow 'orders': result_serializer='jsn'"):
        flow(name="orders", result_serializer="jsn")(lambda: 1)
    with pytest.raises(ConfigurationError, match=r"task 'x': result_storage='prod'.*'<block_type>/<name>'"):
        task(name="x", result_storage="prod")(lambda: 1)


def test_an_unknown_block_slug_fails_before_any_work(calls):
    @task
    def upstream():
        calls.record("upstream")
        return 1

    @task(result_storage="s3/nothing-saved")
    def write(x):
        calls.record("write")
        return x

    @flow
    def in_task():
        return write(upstream())

    with pytest.raises(UnknownNameError, match=r"task 'write': result_storage='s3/nothing-saved': no saved 's3' block"):
        in_task()
    assert calls() == ["upstream"]  # the task's own body never started

    @flow(result_storage="local-file-system/absent")
    def in_flow():
        calls.record("flow body")
        return upstream()

    state = in_flow(return_state=True)
    assert state.is_failed()
    assert "flow 'in_flow': result_storage='local-file-system/absent'" in state.message
    assert calls() == ["upstream"]  # the flow's body never started
    states = [s.name for s in get_client().read_states(state.run_id)]
    assert states == ["Failed"]


# -- cache_result_in_memory=False ---------------------------------------------------------


def test_cache_result_in_memory_false_persists_and_reads_back_each_time(results_dir):
    @task(cache_result_in_memory=False)
    def big():
        return list(range(1000))

    @flow(cache_result_in_memory=False)
    def pipeline():
        return big()

    state = pipeline(return_state=True)
    assert isinstance(state.data, ResultReference)  # persisted by rule 4
    assert "cache_result_in_memory=False" in state.message
    assert not state.data.is_cached
    assert state.result() == list(range(1000))
    assert not state.data.is_cached  # read back, not kept
    run = get_client().read_task_runs(state.run_id)[0]
    assert isinstance(run.state.data, ResultReference)
    stored = results_dir / state.data.key
    stored.unlink()
    with pytest.raises(Exception, match="not found|missing|does not exist"):
        state.result()  # it really goes to storage each time


def test_not_persisted_and_not_kept_is_gone_once_handed_on():
    @task(persist_result=False, cache_result_in_memory=False)
    def make():
        return [1, 2, 3]

    @flow
    def pipeline():
        value = make()  # the direct caller gets it
        state = make(return_state=True)
        return value, state

    value, state = pipeline()
    assert value == [1, 2, 3]
    assert isinstance(state.data, UnpersistedResult) and not state.data.available
    with pytest.raises(MissingResult):
        state.result()


def test_flow_with_options_keeps_cache_result_in_memory():
    f = flow(lambda: 1).with_options(cache_result_in_memory=False)
    assert f.cache_result_in_memory is False


def test_reuse_needs_the_storage_block_saved_or_recorded(tmp_path, calls):
    """A reused reference is rebuilt like any other: from its slug or its block document."""
    attempt = []

    @task(result_storage=LocalFileSystem(basepath=str(tmp_path / "own")))
    def produce():
        calls.record("produce")
        return "value"

    @flow(retries=1)
    def pipeline():
        attempt.append(1)
        value = produce()
        if len(attempt) == 1:
            raise RuntimeError("again")
        return value

    assert pipeline() == "value"
    assert calls() == ["produce"]
