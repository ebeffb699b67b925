"""What the hot-path speed-ups must keep: every state row recorded, listeners told after
the state is recorded, cache hits and reads still right."""

from __future__ import annotations

from typing import Any

from conveyor import flow, get_client, task
from conveyor import plugins
from conveyor.markers import hookimpl


def _states_of(run_id: str) -> list[str]:
    rows = get_client().store.query(
        "SELECT type FROM states WHERE run_id = ? ORDER BY timestamp, rowid", (run_id,)
    )
    return [r[0] for r in rows]


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
