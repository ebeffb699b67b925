"""What the hot-path speed-ups must keep: every state row recorded, listeners told after
the state is recorded, cache hits and reads still right, a flush committed in order."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import sqlite3
import threading
import time
from typing import Any

from conveyor import flow, get_client, plugins, task
from conveyor.markers import hookimpl
from conveyor.metadata.writer import WAKE_BATCH


def _states_of(run_id: str) -> list[str]:
    return [r["type"] for r in get_client().store.read_states(run_id)]


def test_every_state_row_is_recorded() -> None:
    @task(persist_result=True)
    def stored(i: int) -> bytes:
        return bytes([i]) * 1000

    @task(cache_key_fn=lambda ctx, params: f"hot-{params['i'] % 2}")
    def cached(i: int) -> int:
        return i % 2

    @task
    def plain(i: int) -> int:
        return i

    @flow
    def mixed(n: int) -> int:
        futures = [plain.submit(i) for i in range(n)]
        for i in range(n):
            stored(i)
            cached(i)
        return sum(f.result() for f in futures)

    assert mixed(20) == 190
    client = get_client()
    run = client.read_flow_runs(flow_name="mixed", limit=1)[0]
    runs = client.read_task_runs(run.id)
    assert len(runs) == 60 and all(r.state.is_completed() for r in runs)
    for r in runs:
        states = _states_of(r.id)
        assert states[-1] == "COMPLETED", (r.task_name, states)
        if r.task_name != "cached":  # a cache hit is one Completed state; others ran
            assert states[:2] in (["PENDING", "RUNNING"], ["RUNNING", "COMPLETED"]), states


class Listener:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def conveyor_result_persisted(self, run_id: str, run_kind: str, reference: Any) -> None:
        self.seen.append(_states_of(run_id)[-1])  # read back from the database


def test_a_listener_is_told_once_the_state_is_recorded() -> None:
    listener = Listener()
    manager = plugins.get_plugin_manager()
    manager.register(listener, name="hot-path-listener")
    try:
        @task(persist_result=True)
        def stored() -> str:
            return "x" * 100

        @flow
        def tell() -> None:
            stored()

        tell()
    finally:
        manager.unregister(name="hot-path-listener")
    assert "COMPLETED" in listener.seen


def _committing_threads(store: Any, seen: list[int], slow_outside: float = 0.0) -> None:
    """Make ``store.write_batch`` note the thread committing each batch (and, for threads
    other than this one, take ``slow_outside`` seconds first)."""
    original = store.write_batch
    caller = threading.get_ident()

    def noting(batch: Any) -> None:
        seen.append(threading.get_ident())
        if slow_outside and threading.get_ident() != caller:
            time.sleep(slow_outside)
        original(batch)

    store.write_batch = noting


def _state_in_the_file(run_id: str) -> str | None:
    """The task run's state as another connection (another process) reads it."""
    conn = sqlite3.connect(get_client().store.path)
    try:
        row = conn.execute("SELECT state_type FROM task_runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def test_a_flush_commits_in_the_thread_that_asks() -> None:
    # A top-level run ends with a flush: committed by the caller itself (no hand-off to
    # the writer thread and back), and visible to another connection once it returns.
    @task
    def alone() -> int:
        return 7

    store = get_client().store
    seen: list[int] = []
    _committing_threads(store, seen)
    try:
        state = alone(return_state=True)
    finally:
        del store.write_batch
    assert seen and seen[-1] == threading.get_ident()
    assert _state_in_the_file(state.run_id) == "COMPLETED"


def test_a_flush_waits_for_the_batch_the_writer_thread_is_committing() -> None:
    # Rows the writer thread has taken off the queue commit before a flush's own rows:
    # an update queued after them (and flushed here) never reaches the database first.
    store = get_client().store
    writer = store.writer
    now = time.time()
    seen: list[int] = []
    _committing_threads(store, seen, slow_outside=0.3)
    try:
        ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(WAKE_BATCH + 10)]
        for run_id in ids:  # a full batch: the writer thread takes it at once
            writer.create_task_run(run_id, "queued", None, None, ("RUNNING", "Running", None, now, None), now, 1)
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.005)
        writer.set_state("task", ids[0], ("COMPLETED", "Completed", None, now + 1, None), now, now + 1, 1)
        writer.flush()
    finally:
        del store.write_batch
    assert seen[0] != threading.get_ident()  # the thread took the batch
    assert _state_in_the_file(ids[0]) == "COMPLETED"
    assert all(_state_in_the_file(i) is not None for i in ids)


def test_a_flow_run_looks_a_cache_key_up_once_until_it_expires() -> None:
    calls: list[int] = []

    @task(cache_key_fn=lambda ctx, params: "hot-memo")
    def remembered() -> list[int]:
        calls.append(1)
        return [len(calls)]

    @task(cache_key_fn=lambda ctx, params: "hot-memo", refresh_cache=True)
    def refreshed() -> list[int]:
        calls.append(1)
        return [len(calls)]

    @task(cache_key_fn=lambda ctx, params: "hot-short", cache_expiration=datetime.timedelta(seconds=0.3))
    def short() -> int:
        calls.append(1)
        return len(calls)

    @flow
    def hits() -> list[Any]:
        first = [remembered() for _ in range(5)]
        again = refreshed()  # writes the key anew: this flow run hits the new entry
        after = remembered()
        s1 = short()
        time.sleep(0.4)  # expired: looked up again, a miss, run again
        s2 = short()
        return [first, again, after, s1, s2]

    store = get_client().store
    asked: list[str] = []
    entry = store.cache_entry
    store.cache_entry = lambda key, now: (asked.append(key), entry(key, now))[1]
    try:
        first, again, after, s1, s2 = hits()
    finally:
        del store.cache_entry
    assert first == [[1]] * 5 and again == [2] and after == [2] and (s1, s2) == (3, 4)
    assert asked.count("hot-memo") == 1  # once for five hits (and the refreshed write is known)
    assert asked.count("hot-short") == 2


def test_a_cache_hit_outside_a_flow_is_committed_with_the_next_batch(tmp_path: Any) -> None:
    # The run that fills the cache is committed before the call returns; the hit's
    # Cached row goes with the writer's next batch, and a normal exit commits it.
    code = (
        "from conveyor import task\n"
        "@task(cache_key_fn=lambda ctx, params: 'outside-hit')\n"
        "def once(): return [1]\n"
        "once(); once()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=os.environ.copy())
    rows = get_client().store.query("SELECT state_name FROM task_runs WHERE task_name = 'once'")
    assert sorted(r[0] for r in rows) == ["Cached", "Completed"]


def test_a_task_run_outside_a_flow_is_visible_when_the_call_returns() -> None:
    @task(cache_key_fn=lambda ctx, params: "outside-miss")
    def fills() -> int:
        return 3

    state = fills(return_state=True)
    assert state.name == "Completed" and _state_in_the_file(state.run_id) == "COMPLETED"
