"""The engine's behaviour on Dask is its behaviour on threads: the seed's three examples
and representative retry, cache and reuse tests of the core, each run on a thread pool
and on a real 2-worker LocalCluster, with SQLite and with PostgreSQL metadata
(``runner``), with results on SeaweedFS S3.

Task bodies are defined inside the tests (so they pickle by value to the workers) and
count their executions in a file (``calls``), which every worker process sees.
"""

from __future__ import annotations

import logging
import os

import pytest
from conveyor import flow, get_client, task
from conveyor.exceptions import ConfigurationError
from conveyor.futures import allow_failure, as_completed
from conveyor.results import ResultReference, UnpersistedResult

pytestmark = pytest.mark.s3


def _keys(server, bucket):
    listed = server.client().list_objects_v2(Bucket=bucket)
    return {o["Key"] for o in listed.get("Contents", [])}


# -- the seed's three examples (tests/test_engine_seed.py), submitted ------------------


def test_seed_task_in_a_persisting_flow_with_s3_prod_storage_persists_to_s3(
    runner, s3_results, seaweedfs_server, seaweedfs_bucket
):
    @task
    def make_report():
        return {"rows": 3, "marker": "seed-s3", "pid": os.getpid()}

    @flow(persist_result=True, result_storage="s3/prod", task_runner=runner)
    def pipeline():
        make_report.submit().wait()
        return "done"

    state = pipeline(return_state=True)
    (task_run,) = get_client().read_task_runs(state.run_id)
    task_ref = task_run.state.data
    assert isinstance(task_ref, ResultReference) and task_ref.storage == "s3/prod"
    assert isinstance(state.data, ResultReference) and state.data.storage == "s3/prod"
    assert {f"results/{task_ref.key}", f"results/{state.data.key}"} <= _keys(seaweedfs_server, seaweedfs_bucket)
    value = task_run.state.result()
    assert value["rows"] == 3 and value["marker"] == "seed-s3"
    assert (value["pid"] == os.getpid()) is (runner.name == "thread-pool")  # Dask: a worker wrote it


def test_seed_persistence_off_and_retries_raises_when_a_retry_is_attempted(runner, calls):
    @task(persist_result=False, retries=3)
    def fetch():
        calls.record("fetch")
        raise TimeoutError("remote did not answer")

    @flow(task_runner=runner)
    def pipeline():
        return fetch.submit().result()

    with pytest.raises(ConfigurationError, match=r"task 'fetch'.*persist_result=False on task 'fetch'"):
        pipeline()
    assert calls() == ["fetch"]


def test_seed_retrying_flow_persists_its_result_with_defaults_but_not_its_plain_task(runner, tmp_path):
    @task
    def plain():
        return "task value"

    @flow(retries=2, task_runner=runner)
    def pipeline():
        future = plain.submit()
        return future.result(), future.state

    state = pipeline(return_state=True)
    value, task_state = state.result()
    assert value == "task value"
    assert isinstance(task_state.data, UnpersistedResult)  # came back through Dask as a value
    assert isinstance(state.data, ResultReference) and state.data.serializer["type"] == "pickle"
    assert (tmp_path / "conveyor-results" / state.data.key).exists()


# -- retries (tests/test_engine_retries_cache.py) ---------------------------------------


def test_task_retries_until_it_succeeds(runner, calls, s3_results):
    @task(retries=3, retry_delay_seconds=0.05, result_storage="s3/prod")
    def flaky():
        calls.record("flaky")
        if len(calls()) < 3:
            raise ConnectionError("not yet")
        return "ok"

    @flow(task_runner=runner)
    def pipeline():
        future = flaky.submit()
        future.wait()
        return [future.state]  # in a list: a flow returning a State takes it as its own

    (state,) = pipeline()
    assert state.name == "Completed" and state.result() == "ok"
    assert isinstance(state.data, ResultReference)  # retries infer persistence: written remotely
    assert calls() == ["flaky"] * 3
    run = get_client().read_task_run(state.run_id)
    assert run.run_count == 3
    names = [s.name for s in get_client().read_states(run.id)]
    assert names.count("AwaitingRetry") == 2 and names[-1] == "Completed"


def test_retries_exhausted_fail_with_the_last_exception(runner, calls):
    @task(retries=1)
    def always():
        calls.record("always")
        raise ValueError(f"attempt {len(calls())}")

    @flow(task_runner=runner)
    def pipeline():
        return always.submit().result()

    state = pipeline(return_state=True)
    assert state.name == "Failed"
    with pytest.raises(ValueError, match="attempt 2"):
        state.result()
    assert calls() == ["always", "always"]


def test_a_timed_out_task_is_timed_out(runner):
    @task(timeout_seconds=0.2)
    def slow():
        import time

        time.sleep(5)

    @flow(task_runner=runner)
    def pipeline():
        future = slow.submit()
        future.wait()
        return [future.state]  # in a list: a flow returning a State takes it as its own

    (state,) = pipeline()
    assert state.name == "TimedOut" and "timeout_seconds=0.2" in state.message


# -- caching ------------------------------------------------------------------------------


def test_cache_hit_returns_the_cached_state_without_running(runner, calls, s3_results):
    @task(cache_key_fn=lambda _ctx, params: f"double-{params['x']}", result_storage="s3/prod")
    def double(x):
        calls.record("double")
        return {"doubled": x * 2}

    @flow(task_runner=runner)
    def pipeline():
        future = double.submit(21)
        future.wait()
        return [future.state]  # in a list: a flow returning a State takes it as its own

    (first,), (second,) = pipeline(), pipeline()
    assert (first.name, second.name) == ("Completed", "Cached")
    assert second.result() == {"doubled": 42}
    assert calls() == ["double"]


# -- reuse on a flow retry (tests/test_reuse.py) ------------------------------------------


def test_a_flow_retry_reuses_what_the_failed_attempt_persisted(runner, calls, s3_results):
    @task(persist_result=True, result_storage="s3/prod")
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
        if calls().count("flaky") == 1:
            raise RuntimeError("transient")
        return "ok"

    @flow(retries=1, task_runner=runner)
    def pipeline():
        a = expensive.submit(1)
        b = cheap.submit(2)
        flaky.submit(wait_for=[a, b]).result()
        return a.result(), b.result()

    state = pipeline(return_state=True)
    assert state.result() == ({"x": 2}, [2])
    assert sorted(calls()) == sorted(["expensive", "cheap", "flaky", "cheap", "flaky"])
    reused = [r for r in get_client().read_task_runs(state.run_id) if r.state.name == "Reused"]
    assert [r.task_name for r in reused] == ["expensive"]


def test_an_unserializable_value_under_inferred_persistence_stays_in_memory(runner, calls, caplog):
    from fractions import Fraction

    @task(retries=1)  # persistence inferred (rule 4); the flow's serializer is JSON
    def make():
        calls.record("make")
        return Fraction(1, 3)  # JSON refuses it, pickle (Dask's transport) carries it

    @flow(task_runner=runner, result_serializer="json")
    def pipeline():
        return make.submit().result().denominator

    with caplog.at_level(logging.WARNING, logger="conveyor"):
        state = pipeline(return_state=True)
    assert state.result() == 3
    (run,) = get_client().read_task_runs(state.run_id)
    assert run.state.name == "Completed" and isinstance(run.state.data, UnpersistedResult)
    assert "result kept in memory only" in run.state.message
    warnings = [r for r in caplog.records if "kept in memory" in r.getMessage()]
    assert len(warnings) == 1 and "'json'" in warnings[0].getMessage()
    assert calls() == ["make"]


# -- subflows and futures -------------------------------------------------------------------


def test_subflows_and_futures_behave_as_on_threads(runner, calls, monkeypatch, dask_cluster):
    monkeypatch.setenv("CONVEYOR_TASK_RUNNER", f"dask:{dask_cluster.scheduler_address}")

    @task
    def square(x):
        calls.record("square")
        return x * x

    @task
    def boom():
        raise KeyError("boom")

    @task
    def total(values, failed):
        return sum(values), type(failed).__name__

    @flow  # no task_runner: CONVEYOR_TASK_RUNNER puts its tasks on the cluster
    def inner(n):
        return sum(f.result() for f in square.map(range(n)))

    @flow(task_runner=runner)
    def outer():
        futures = square.map(range(4))
        done = [f.result() for f in as_completed(futures)]
        summed = total.submit(futures, allow_failure(boom.submit()))
        return sorted(done), summed.result(), inner(3)

    assert outer() == ([0, 1, 4, 9], (14, "KeyError"), 5)
    assert calls() == ["square"] * 7


# -- the whole cluster set-up: Dask workers, PostgreSQL records, S3 results ----------------


def test_on_the_cluster_states_go_to_postgresql_and_values_to_s3(
    dask_runner, postgres_url, monkeypatch, seaweedfs_server, seaweedfs_bucket
):
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", postgres_url)
    block = seaweedfs_server.block(f"{seaweedfs_bucket}/cluster")
    block.save("cluster", overwrite=True)
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_STORAGE", "s3/cluster")

    @task(persist_result=True, retries=1)
    def square(i):
        return {"square": i * i, "pid": os.getpid()}

    @flow(task_runner=dask_runner)
    def unchanged():
        return [f.result()["square"] for f in square.map(range(6))]

    state = unchanged(return_state=True)
    assert state.result() == [i * i for i in range(6)]
    store = get_client().store
    assert type(store).__name__ == "PostgresStore" and "postgresql://" in store.location
    task_runs = get_client().read_task_runs(state.run_id)
    assert len(task_runs) == 6 and all(t.state.name == "Completed" for t in task_runs)
    refs = [t.state.data for t in task_runs]
    assert all(isinstance(r, ResultReference) and r.storage == "s3/cluster" for r in refs)
    assert {f"cluster/{r.key}" for r in refs} <= _keys(seaweedfs_server, seaweedfs_bucket)
    assert all(t.state.result()["pid"] != os.getpid() for t in task_runs)  # written on workers
