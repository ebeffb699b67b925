"""Real flows recorded in PostgreSQL: ``CONVEYOR_DATABASE_URL`` points at the test server
and tasks, retries, caching, subflows, crash marking and resume are read back with
``conveyor.client`` and the CLI (``runs ls``, ``runs show``), from this process and another."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conveyor import flow, get_client, task
from conveyor.cli import main
from conveyor.metadata import get_store
from conveyor_metadata_postgres import PostgresStore


@pytest.fixture
def pg_home(postgres_url, monkeypatch):
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", postgres_url)
    return postgres_url


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_flows_with_retries_caching_and_subflows_are_read_back(pg_home, tmp_path, capsys, conveyor_home):
    attempts = []
    calls = []

    @task(retries=2, retry_delay_seconds=0, persist_result=True)
    def flaky(x):
        attempts.append(x)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return x * 10

    @task(cache_key_fn=lambda ctx, params: f"pg-key-{params['x']}", persist_result=True)
    def cached(x):
        calls.append(x)
        return {"x": x}

    @flow(name="pg-child", persist_result=True)
    def child(n):
        return [cached(i) for i in range(n)]

    @flow(name="pg-parent", persist_result=True)
    def parent():
        return {"flaky": flaky(4), "child": child(3), "again": cached(1)}

    state = parent(return_state=True)
    assert state.result() == {"flaky": 40, "child": [{"x": 0}, {"x": 1}, {"x": 2}], "again": {"x": 1}}
    assert calls == [0, 1, 2]  # the fourth call was a cache hit, recorded in PostgreSQL
    assert isinstance(get_store(), PostgresStore)
    assert not (conveyor_home / "conveyor.db").exists()  # nothing went to SQLite

    client = get_client()
    run = client.read_flow_run(state.run_id)
    assert run.flow_name == "pg-parent" and run.state.is_completed()
    tasks = {t.task_name: t for t in client.read_task_runs(run.id)}
    assert tasks["flaky"].run_count == 3 and tasks["flaky"].state.result() == 40
    assert tasks["cached"].state.name == "Cached"
    states = [s["name"] for s in get_store().read_states(tasks["flaky"].id)]
    assert states.count("Retrying") == 2 and states[-1] == "Completed"
    (sub,) = client.read_subflow_runs(run.id)
    assert sub.flow_name == "pg-child" and sub.state.result() == [{"x": 0}, {"x": 1}, {"x": 2}]

    code, out, _ = run_cli(capsys, "runs", "ls")
    assert code == 0 and state.run_id[:8] in out and "pg-parent" in out
    code, out, _ = run_cli(capsys, "runs", "show", state.run_id, "--json")
    doc = json.loads(out)
    assert {t["task"] for t in doc["task_runs"]} == {"flaky", "cached", "pg-child"}  # a subflow has its task run
    assert [f["id"] for f in doc["subflow_runs"]] == [sub.id]

    # another process with the same URL sees the same runs and hits the same cache
    script = (
        "from conveyor import flow, get_client, task\n"
        "@task(cache_key_fn=lambda ctx, params: f\"pg-key-{params['x']}\", persist_result=True)\n"
        "def cached(x):\n"
        "    raise SystemExit('cache miss')\n"
        "@flow(name='pg-other')\n"
        "def other():\n"
        "    return cached(2)\n"
        "print(other(), len(get_client().read_flow_runs()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["{'x':", "2}", "3"]


def test_a_failed_run_is_resumed_and_a_crashed_one_marked(pg_home, tmp_path, capsys):
    failing = {"b": True}
    log = []

    @task(persist_result=True)
    def work(name):
        log.append(name)
        if failing.get(name):
            raise RuntimeError(f"{name} fails")
        return name.upper()

    @flow(name="pg-chain")
    def chain():
        return [work(n) for n in "abc"]

    first = chain(return_state=True)
    assert first.is_failed()
    failing["b"] = False
    second = chain.resume(first.run_id, return_state=True)
    assert second.result() == ["A", "B", "C"] and log == ["a", "b", "b", "c"]
    client = get_client()
    assert client.read_flow_run(second.run_id).resumed_from == first.run_id
    assert [r.id for r in client.read_flow_runs(flow_name="pg-chain")] == [second.run_id, first.run_id]

    store = get_store()
    store.writer.create_flow_run("ghost", "pg-ghost", None, None, ("RUNNING", "Running", None, 1.0, None), 1.0, 1)
    assert [r["id"] for r in store.read_unfinished_flow_runs()] == ["ghost"]
    assert store.mark_crashed("ghost", "its process is gone", 2.0) == 1
    code, out, _ = run_cli(capsys, "runs", "ls", "--json")
    assert code == 0
    listed = {r["id"]: r for r in json.loads(out)}
    assert listed["ghost"]["state"] == "CRASHED" and second.run_id in listed


def test_a_forked_child_records_its_own_runs(pg_home):
    import multiprocessing

    @flow(name="pg-fork")
    def forked(where):
        return where

    parent = forked("before fork", return_state=True)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_runs_a_flow, args=(queue,))
    child.start()
    child_run_id = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    again = forked("after the child", return_state=True)  # the parent's connections still work
    ids = {r.id for r in get_client().read_flow_runs()}
    assert {parent.run_id, child_run_id, again.run_id} <= ids


def _child_runs_a_flow(queue):
    @flow(name="pg-child-process")
    def in_child():
        return 1

    queue.put(in_child(return_state=True).run_id)
