"""Persistence in the engine: the policy, storage and serializer inheritance, keys, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conveyor import flow, get_client, hookimpl, plugins, task
from conveyor.exceptions import ConfigurationError, UnknownNameError
from conveyor.filesystems import LocalFileSystem
from conveyor.results import ResultLiteral, ResultReference, UnpersistedResult
from conveyor.serializers import JSONSerializer


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return tmp_path / "conveyor-results"


def test_default_is_in_memory_only(results_dir):
    @task
    def make():
        return {"a": 1}

    @flow
    def pipeline():
        state = make(return_state=True)
        assert isinstance(state.data, UnpersistedResult)
        return state.result()

    state = pipeline(return_state=True)
    assert state.result() == {"a": 1}
    assert isinstance(state.data, UnpersistedResult)
    assert files_under(results_dir) == []


def test_persist_result_true_writes_to_default_storage(results_dir):
    @task(persist_result=True)
    def make():
        return [1, 2, 3]

    state = make(return_state=True)
    assert isinstance(state.data, ResultReference)
    assert state.result() == [1, 2, 3]
    (written,) = files_under(results_dir)
    assert written.relative_to(results_dir).as_posix() == state.data.key


def test_literals_never_touch_storage_even_when_persisting(results_dir):
    @task(persist_result=True, result_storage_key="never-{parameters[v]}")
    def echo(v):
        return v

    for value in (True, False, None):
        state = echo(value, return_state=True)
        assert isinstance(state.data, ResultLiteral) and state.result() is value
    assert files_under(results_dir) == []
    row = get_store_row(state.run_id)
    assert json.loads(row) == {"type": "result", "value": "null"}


def get_store_row(run_id: str) -> str:
    from conveyor.metadata import get_store

    return get_store().read_task_run(run_id)["state_data"]


def test_storage_and_serializer_inherited_from_the_flow(tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "flow-store"))

    @task(persist_result=True)
    def inner():
        return {"x": 1}

    @task(persist_result=True, result_serializer="pickle")
    def own_serializer():
        return {"y": 2}

    states = []

    @flow(result_storage=storage, result_serializer="json", persist_result=True)
    def pipeline():
        states.extend([inner(return_state=True), own_serializer(return_state=True)])
        return "done"

    flow_state = pipeline(return_state=True)
    assert flow_state.data.serializer["type"] == "json"
    inner_state, own_state = states
    assert inner_state.data.serializer["type"] == "json"
    assert own_state.data.serializer["type"] == "pickle"
    assert (tmp_path / "flow-store" / inner_state.data.key).exists()
    assert (tmp_path / "flow-store" / own_state.data.key).exists()


def test_result_storage_by_slug_and_serializer_instance(tmp_path):
    LocalFileSystem(basepath=str(tmp_path / "saved")).save("mine")

    @task(result_storage="local-file-system/mine", result_serializer=JSONSerializer(jsonlib="orjson"))
    def make():
        return {"k": "v"}

    state = make(return_state=True)
    assert state.data.storage == "local-file-system/mine"
    assert state.data.serializer["jsonlib"] == "orjson"
    assert (tmp_path / "saved" / state.data.key).exists()

    @task(result_storage="local-file-system/absent")
    def lost():
        return 1

    with pytest.raises(UnknownNameError, match="absent"):
        lost()
    with pytest.raises(UnknownNameError, match="unknown serializer .yaml.; available: .*json"):
        task(result_serializer="yaml")(lambda: 1)()


def test_result_storage_key_templates(tmp_path, results_dir):
    @task(result_storage_key="{parameters[name]}-out.json", result_serializer="json")
    def by_param(name):
        return {"name": name}

    @task(result_storage_key="{flow_run.flow_name}/{task_run.id}")
    def by_run():
        return "x"

    states = []

    @flow
    def pipeline():
        states.extend([by_param("report", return_state=True), by_run(return_state=True)])

    pipeline()
    param_state, run_state = states
    assert param_state.data.key == "report-out.json"
    assert (results_dir / "report-out.json").exists()
    assert run_state.data.key == f"pipeline/{run_state.run_id}"
    assert (results_dir / "pipeline" / run_state.run_id).exists()

    @task(result_storage_key="{parameters[missing]}")
    def broken(x):
        return x

    with pytest.raises(ConfigurationError, match="cannot be filled"):
        broken(1)


def test_a_failed_run_never_writes_at_the_users_key(results_dir):
    @task(result_storage_key="fixed-key", persist_result=True)
    def fails():
        raise ValueError("nope")

    state = fails(return_state=True)
    assert state.is_failed()
    assert isinstance(state.data, ResultReference) and state.data.key != "fixed-key"
    assert not (results_dir / "fixed-key").exists()
    with pytest.raises(ValueError, match="nope"):
        state.result()


def test_exceptions_persist_with_pickle_when_the_serializer_cannot(results_dir):
    @task(persist_result=True, result_serializer="json")
    def fails():
        raise LookupError("json cannot hold me")

    state = fails(return_state=True)
    assert state.data.serializer["type"] == "pickle"
    fresh = get_client().read_task_run(state.run_id).state
    with pytest.raises(LookupError, match="json cannot hold me"):
        fresh.result()


def test_value_that_cannot_be_serialized_fails_the_run():
    @task(result_serializer="json")
    def make():
        return object()

    state = make(return_state=True)
    assert state.is_failed() and "SerializationError" in state.message


def test_result_persisted_hook_is_called_after_recording():
    seen = []

    class Recorder:
        @hookimpl
        def conveyor_result_persisted(self, run_id, run_kind, reference):
            row = get_client().read_task_run(run_id) if run_kind == "task" else None
            seen.append((run_kind, reference.key, row.state.name if row else None))

    pm = plugins.make_plugin_manager(plugins=[Recorder()])
    with plugins.use_plugin_manager(pm):
        state = task(persist_result=True)(lambda: 5)(return_state=True)
    assert seen == [("task", state.data.key, "Completed")]


def test_cache_result_in_memory_false_drops_the_value():
    @task(persist_result=True, cache_result_in_memory=False)
    def make():
        return [1]

    state = make(return_state=True)
    assert not state.data.is_cached
    assert state.result() == [1]


def test_an_exception_is_never_written_to_the_storage_that_just_failed():
    import attrs
    from conveyor.exceptions import StorageError
    from conveyor.filesystems import StorageBlock
    from conveyor.results import UnpersistedResult

    attempts = []

    @attrs.frozen
    class Broken(StorageBlock):
        block_type = "broken-for-test"

        def write_path(self, path, content):
            attempts.append(path)
            raise OSError("the storage is unreachable")

        def read_path(self, path):
            raise OSError("the storage is unreachable")

    @task(result_storage=Broken())
    def produce():
        return {"big": "value"}

    state = produce(return_state=True)
    assert state.is_failed()
    assert isinstance(state.data, UnpersistedResult)  # not written to the storage that failed
    assert len(attempts) == 1  # the value's write only: no second wait on a dead storage
    assert isinstance(state.data.get(), StorageError)
