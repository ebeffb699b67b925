"""Reading past runs: the client, from this process and from a second one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from conveyor import flow, get_client, task
from conveyor.client import Client
from conveyor.exceptions import MissingResult, UnknownNameError
from conveyor.results import ResultLiteral, ResultReference, UnpersistedResult

MARKER = f"marker-{uuid.uuid4().hex}"


@task(persist_result=True)
def persisted(text):
    return {"text": text}


@task(persist_result=False)
def in_memory(text):
    return text + "!"


@task
def literal():
    return None


@task(persist_result=True)
def failing():
    raise ValueError("failed on purpose")


@flow(persist_result=True)
def pipeline(text):
    persisted(text)
    in_memory(text)
    literal()
    failing(return_state=True)
    return [text, "flow"]


READER = textwrap.dedent(
    """
    import json, sys
    from conveyor import get_client
    from conveyor.exceptions import MissingResult

    client = get_client()
    out = {}
    run = client.read_flow_run(sys.argv[1])
    out["flow"] = [run.flow_name, run.state.name, run.state.result()]
    for task_run in client.read_task_runs(run.id):
        try:
            value = task_run.state.result(raise_on_failure=False)
            if isinstance(value, BaseException):
                value = [type(value).__name__, str(value)]
            out[task_run.task_name] = ["value", value]
        except MissingResult as exc:
            out[task_run.task_name] = ["missing", str(exc)]
    print(json.dumps(out))
    """
)


def test_a_second_process_reads_every_result(tmp_path: Path):
    state = pipeline(MARKER, return_state=True)
    results_dir = tmp_path / "conveyor-results"
    files_before = sorted(p.name for p in results_dir.rglob("*") if p.is_file())
    done = subprocess.run(
        [sys.executable, "-c", READER, state.run_id], capture_output=True, text=True, check=True
    )
    out = json.loads(done.stdout)
    assert out["flow"] == ["pipeline", "Completed", [MARKER, "flow"]]
    assert out["persisted"] == ["value", {"text": MARKER}]
    assert out["in_memory"][0] == "missing" and "persist_result=True" in out["in_memory"][1]
    assert out["literal"] == ["value", None]
    assert out["failing"] == ["value", ["ValueError", "failed on purpose"]]
    # the literal wrote no file: only the flow, 'persisted' and 'failing' did, and the
    # flow run kept its parameters (by reference, for `conveyor runs resume`)
    assert len(files_before) == 4
    assert sorted(p.name for p in results_dir.rglob("*") if p.is_file()) == files_before


def test_the_metadata_database_never_holds_a_value(conveyor_home: Path):
    pipeline(MARKER)
    get_client().read_flow_runs()  # flushed and checkpoint-free reads
    files = [p for p in conveyor_home.iterdir() if p.name.startswith("conveyor.db")]
    assert any(p.name == "conveyor.db" for p in files)
    for path in files:
        assert MARKER.encode() not in path.read_bytes(), path.name


def test_read_flow_runs_newest_first_with_filters():
    @flow
    def other():
        return 1

    first = pipeline("a", return_state=True)
    second = other(return_state=True)
    third = pipeline("b", return_state=True)
    client = get_client()
    assert [r.id for r in client.read_flow_runs()] == [third.run_id, second.run_id, first.run_id]
    assert [r.id for r in client.read_flow_runs(flow_name="pipeline")] == [third.run_id, first.run_id]
    assert [r.id for r in client.read_flow_runs(limit=1)] == [third.run_id]
    assert client.read_flow_runs(flow_name="nothing") == []


def test_records_hold_ids_names_links_and_states():
    state = pipeline("x", return_state=True)
    client = get_client()
    run = client.read_flow_run(state.run_id)
    assert run.id == state.run_id and run.flow_name == "pipeline" and run.parent_task_run_id is None
    assert run.state.is_completed() and run.start_time <= run.end_time
    task_runs = client.read_task_runs(run.id)
    assert [t.task_name for t in task_runs] == ["persisted", "in_memory", "literal", "failing"]
    kinds = [type(t.state.data) for t in task_runs]
    assert kinds == [ResultReference, UnpersistedResult, ResultLiteral, ResultReference]
    one = client.read_task_run(task_runs[0].id)
    assert one.flow_run_id == run.id and one.cache_key is None
    assert one.state.result() == {"text": "x"}
    assert task_runs[3].state.is_failed()
    with pytest.raises(ValueError, match="failed on purpose"):
        task_runs[3].state.result()
    with pytest.raises(MissingResult, match="persist_result=True"):
        task_runs[1].state.result()


def test_unknown_ids_are_one_line_errors():
    client = Client()
    for call in (client.read_flow_run, client.read_task_run):
        with pytest.raises(UnknownNameError) as info:
            call("no-such-id")
        assert "\n" not in str(info.value) and "'no-such-id'" in str(info.value)


def test_idle_writer_thread_stops_and_restarts(monkeypatch):
    import threading
    import time

    from conveyor.metadata import get_store
    from conveyor.metadata import writer as writer_module

    monkeypatch.setattr(writer_module, "IDLE_SECONDS", 0.05)
    state = pipeline("a", return_state=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        t.name == "conveyor-store-writer" and t.is_alive() for t in threading.enumerate()
    ):
        time.sleep(0.02)
    writer = get_store().writer
    assert not writer._alive
    again = pipeline("b", return_state=True)
    runs = {r.id for r in get_client().read_flow_runs()}
    assert {state.run_id, again.run_id} <= runs


def test_rows_queued_at_exit_are_written(tmp_path):
    script = textwrap.dedent(
        """
        from conveyor import task
        from conveyor.engine.task_run import ActiveTaskRun
        from conveyor.states import State, StateType

        @task
        def t():
            return 1

        run = ActiveTaskRun(t, (), {}, None)
        run.record(State(StateType.RUNNING))  # queued, never flushed: written at exit
        print(run.id)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    run_id = done.stdout.strip()
    assert get_client().read_task_run(run_id).state.is_running()


def test_a_forked_child_records_its_own_runs():
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    parent = pipeline("before fork", return_state=True)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_runs_a_flow, args=(queue,))
    child.start()
    child_run_id = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    ids = {r.id for r in get_client().read_flow_runs()}
    assert {parent.run_id, child_run_id} <= ids


def _child_runs_a_flow(queue):
    state = pipeline("in child", return_state=True)
    queue.put(state.run_id)
