"""What only a cluster has: workers that die, folders they do not share, states recorded
while the run goes on, selection by the setting, values that stay on the workers."""

from __future__ import annotations

import os
import signal
import time

import pytest
from conveyor import flow, get_client, task
from conveyor.engine import get_run_context
from conveyor.exceptions import ConfigurationError, SettingsError
from conveyor.filesystems import LocalFileSystem
from conveyor.results import ResultReference
from conveyor.task_runners import DaskTaskRunner, resolve_task_runner
from conveyor_runner_dask import WorkerDied

WAIT = 60.0  # seconds any wait for the cluster may take before the test fails


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT:g} s for {what}")
        time.sleep(0.05)


def _wait_for_workers(cluster, count: int = 2) -> None:
    _wait_for(lambda: len(cluster.scheduler_info["workers"]) >= count, f"{count} workers")


# -- a worker killed in the middle of a run ----------------------------------------------


@pytest.mark.s3
def test_a_worker_killed_mid_task_is_replaced_and_the_task_runs_again(dask_runner, dask_cluster, calls, s3_results):
    _wait_for_workers(dask_cluster)

    @task(persist_result=True, result_storage="s3/prod")
    def fragile(i):
        calls.record("fragile")
        if calls().count("fragile") == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies in the middle of the call
        return {"i": i, "pid": os.getpid()}

    @task(persist_result=True, result_storage="s3/prod")
    def steady(i):
        return i * 10

    @flow(task_runner=dask_runner)
    def pipeline():
        done = steady.submit(1).result()
        return done, fragile.submit(7).result()

    state = pipeline(return_state=True)
    done, value = state.result()
    assert done == 10 and value["i"] == 7 and value["pid"] != os.getpid()
    assert calls() == ["fragile", "fragile"]  # Dask ran the call again on another worker
    runs = {r.task_name: r for r in get_client().read_task_runs(state.run_id)}
    assert runs["fragile"].state.name == "Completed" and runs["fragile"].run_count == 1
    assert runs["steady"].state.result() == 10  # what was recorded is intact


@pytest.mark.s3
def test_a_task_that_keeps_killing_its_worker_fails_with_a_clear_message(dask_runner, dask_cluster, calls, s3_results):
    _wait_for_workers(dask_cluster)

    @task(persist_result=True, result_storage="s3/prod")
    def steady():
        return "kept"

    @task(persist_result=True, result_storage="s3/prod")
    def killer():
        calls.record("killer")
        os.kill(os.getpid(), signal.SIGKILL)

    @flow(task_runner=dask_runner)
    def pipeline():
        kept = steady.submit()
        kept.wait()
        return kept.result(), killer.submit().result()

    state = pipeline(return_state=True)
    assert state.name == "Failed"
    with pytest.raises(WorkerDied, match=r"task 'killer' run .*the Dask worker running it died"):
        state.result()
    runs = {r.task_name: r for r in get_client().read_task_runs(state.run_id)}
    assert runs["killer"].state.name == "Failed" and "WorkerDied" in runs["killer"].state.message
    assert runs["steady"].state.name == "Completed" and runs["steady"].state.result() == "kept"
    assert calls() == ["killer", "killer"]  # allowed-failures=1: tried on a second worker
    _wait_for_workers(dask_cluster)  # the nannies restart them for the next tests


# -- a local folder the workers do not share -----------------------------------------------


def test_a_local_folder_with_a_remote_scheduler_is_refused_before_any_task_runs(tmp_path, calls):
    runner = DaskTaskRunner(address="tcp://192.0.2.10:8786")  # TEST-NET: never connected to

    @task(persist_result=True)
    def write():
        calls.record("write")
        return 1

    @flow(task_runner=runner, result_storage=LocalFileSystem(basepath=str(tmp_path / "here")))
    def pipeline():
        return write.submit().result()

    state = pipeline(return_state=True)
    assert state.name == "Failed"
    with pytest.raises(ConfigurationError, match=r"local folder .*other machines.*S3\(\.\.\.\).*shared_folders=True"):
        state.result()
    assert get_client().read_task_runs(state.run_id) == [] and calls() == []


def test_a_local_folder_is_fine_on_a_cluster_of_this_machine_or_a_shared_one(tmp_path):
    folder = LocalFileSystem(basepath=str(tmp_path))
    DaskTaskRunner(address="tcp://127.0.0.1:8786").check_storage(folder)
    DaskTaskRunner().check_storage(folder)
    DaskTaskRunner(address="tcp://192.0.2.10:8786", shared_folders=True).check_storage(folder)


# -- the run as it goes on ------------------------------------------------------------------


def test_states_reach_the_metadata_store_while_the_task_runs_on_a_worker(dask_runner, tmp_path):
    go = tmp_path / "go"

    @task
    def waits():
        deadline = time.monotonic() + WAIT
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return os.getpid()

    @flow(task_runner=dask_runner)
    def pipeline():
        future = waits.submit()
        flow_run_id = get_run_context().flow_run.id

        def running() -> bool:
            runs = get_client().read_task_runs(flow_run_id)
            return bool(runs) and runs[0].state.name == "Running"

        _wait_for(running, "the task run's Running state in the store")
        go.touch()
        return future.result()

    assert pipeline() != os.getpid()


def test_a_persisted_value_stays_on_the_worker_and_only_its_reference_comes_back(dask_runner, s3_results):
    @task(persist_result=True, result_storage="s3/prod", cache_result_in_memory=False)
    def big():
        return b"x" * 1_000_000

    @flow(task_runner=dask_runner)
    def pipeline():
        future = big.submit()
        future.wait()
        return [future.state]

    (state,) = pipeline()
    assert isinstance(state.data, ResultReference) and state.data.size >= 1_000_000
    assert not state.data.is_cached  # never held here: read from S3 when asked for
    assert state.result() == b"x" * 1_000_000


def test_async_tasks_run_on_the_workers(dask_runner):
    @task
    async def double(x):
        import asyncio

        await asyncio.sleep(0)
        return 2 * x

    @flow(task_runner=dask_runner)
    def pipeline():
        return [f.result() for f in double.map(range(3))]

    assert pipeline() == [0, 2, 4]


# -- chosen by the setting ------------------------------------------------------------------


def test_conveyor_task_runner_selects_dask_for_flows_without_a_runner(monkeypatch, dask_cluster):
    monkeypatch.setenv("CONVEYOR_TASK_RUNNER", f"dask:{dask_cluster.scheduler_address}")
    runner = resolve_task_runner(None)
    assert isinstance(runner, DaskTaskRunner) and runner.address == dask_cluster.scheduler_address

    @task
    def where():
        return os.getpid()

    @flow
    def pipeline():
        return where.submit().result()

    assert pipeline() != os.getpid()


def test_cluster_kwargs_and_an_address_do_not_go_together():
    with pytest.raises(ConfigurationError, match="drop cluster_kwargs"):
        DaskTaskRunner(address="tcp://127.0.0.1:8786", cluster_kwargs={"n_workers": 2})
    with pytest.raises(SettingsError, match="CONVEYOR_TASK_RUNNER='nope'.*unknown task runner 'nope'"):
        os.environ["CONVEYOR_TASK_RUNNER"] = "nope"
        try:
            resolve_task_runner(None)
        finally:
            del os.environ["CONVEYOR_TASK_RUNNER"]


def test_without_an_address_it_starts_a_local_cluster_and_closes_it():
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "memory_limit": "256MiB",
                                            "dashboard_address": ":0"})

    @task
    def where():
        return os.getpid()

    @flow(task_runner=runner)
    def pipeline():
        return where.submit().result()

    assert pipeline() != os.getpid()
    # the flow run's copy started the cluster and closed it; the configured runner never starts
    assert runner._client is None and runner._cluster is None


def test_a_flow_that_times_out_leaves_no_task_run_unfinished(dask_runner, tmp_path):
    go = tmp_path / "go"

    @task
    def waits():
        deadline = time.monotonic() + WAIT
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return 1

    @flow(task_runner=dask_runner, timeout_seconds=1)
    def pipeline():
        return waits.submit().result()

    state = pipeline(return_state=True)
    go.touch()  # the worker's thread goes on to its end: let it
    assert state.name == "TimedOut"

    def finished() -> bool:
        runs = get_client().read_task_runs(state.run_id)
        return bool(runs) and runs[0].state.is_final()

    _wait_for(finished, "the task run's final state")
    (run,) = get_client().read_task_runs(state.run_id)
    assert run.state.name in ("Crashed", "Completed", "Cancelled"), run.state
