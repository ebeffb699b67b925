"""The three seed examples of API.md, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from conveyor import flow, get_client, task
from conveyor.exceptions import ConfigurationError
from conveyor.results import ResultReference, UnpersistedResult


@pytest.mark.s3
def test_task_in_a_persisting_flow_with_s3_prod_storage_persists_to_s3(seaweedfs_server):
    bucket = seaweedfs_server.create_bucket()
    seaweedfs_server.block(f"{bucket}/results").save("prod")

    @task
    def make_report():
        return {"rows": 3, "marker": "seed-s3"}

    task_states = []

    @flow(persist_result=True, result_storage="s3/prod")
    def pipeline():
        task_states.append(make_report(return_state=True))
        return "done"

    state = pipeline(return_state=True)
    task_ref = task_states[0].data
    assert isinstance(task_ref, ResultReference) and task_ref.storage == "s3/prod"
    assert isinstance(state.data, ResultReference) and state.data.storage == "s3/prod"
    keys = {o["Key"] for o in seaweedfs_server.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert {f"results/{task_ref.key}", f"results/{state.data.key}"} <= keys
    (task_run,) = get_client().read_task_runs(state.run_id)
    fresh = task_run.state.data
    assert not fresh.is_cached
    assert task_run.state.result() == {"rows": 3, "marker": "seed-s3"}


def test_task_with_persistence_off_and_retries_raises_when_a_retry_is_attempted():
    attempts = []

    @task(persist_result=False, retries=3)
    def fetch():
        attempts.append(1)
        raise TimeoutError("remote did not answer")

    @flow
    def pipeline():
        state = fetch(return_state=True)
        assert isinstance(state.data, UnpersistedResult)
        return state.result()

    with pytest.raises(ConfigurationError, match=r"task 'fetch'.*persist_result=False on task 'fetch'"):
        pipeline()
    assert attempts == [1]


def test_retrying_flow_persists_its_result_with_defaults_but_not_its_plain_task(tmp_path: Path):
    @task
    def plain():
        return "task value"

    task_states = []

    @flow(retries=2)
    def pipeline():
        task_states.append(plain(return_state=True))
        return "flow value"

    state = pipeline(return_state=True)
    assert state.result() == "flow value"
    assert isinstance(task_states[0].data, UnpersistedResult)
    assert isinstance(state.data, ResultReference)
    assert state.data.serializer["type"] == "pickle"  # the default serializer
    assert (tmp_path / "conveyor-results" / state.data.key).exists()  # the default storage
