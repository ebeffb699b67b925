"""The metadata backend conformance suite, part three: a run's states read back whole,
whether they are rows of ``states`` or told by the task run's own row
(``implied_states``: see :mod:`conveyor.metadata.batch`). Mix :class:`StatesConformance`
into the subclass of :class:`conveyor.testing.metadata.MetadataStoreConformance` (it
uses its fixtures)::

    class TestMyStore(MetadataStoreConformance, UpkeepConformance, StatesConformance):
        ...
"""

from __future__ import annotations

from typing import Any

from conveyor.testing.metadata import _flow

PENDING = ("PENDING", "Pending", None, 1.0, None)
RUNNING = ("RUNNING", "Running", None, 1.5, None)
DONE = ("COMPLETED", "Completed", "result persisted", 2.5, '{"r": 1}')


def _states(store: Any, run_id: str) -> list[tuple[Any, ...]]:
    return [(s["run_id"], s["run_kind"], s["type"], s["name"], s["message"], s["timestamp"], s["data"])
            for s in store.read_states(run_id)]


class StatesConformance:
    """Every state a run went through reads back, in order, however it was stored."""

    def test_the_states_of_runs_finished_in_one_batch(self, store: Any, make_store: Any) -> None:
        w = store.writer
        w.create_task_run("called", "task", None, None, RUNNING, 1.5, 1)
        w.set_state("task", "called", DONE, 1.5, 2.5, 1)
        w.create_task_run("submitted", "task", None, None, PENDING, None, 0)
        w.set_state("task", "submitted", RUNNING, 1.5, None, 1)
        w.set_state("task", "submitted", DONE, 1.5, 2.5, 1)
        w.create_task_run("upstream-failed", "task", None, None, PENDING, None, 0)
        w.set_state("task", "upstream-failed", ("FAILED", "Failed", "an upstream run failed", 1.2, None),
                    None, 1.2, 0)
        w.create_task_run("cached", "task", None, None, ("COMPLETED", "Cached", "hit", 3.0, "true"), None, 0)
        w.create_task_run("retried", "task", None, None, RUNNING, 1.5, 1)
        retried = [("PENDING", "AwaitingRetry", "attempt 1 failed", 1.6, None),
                   ("RUNNING", "Retrying", None, 1.7, None), ("COMPLETED", "Completed", None, 1.8, "null")]
        for i, state in enumerate(retried):
            w.set_state("task", "retried", state, 1.5, 1.8 if i == 2 else None, 1 if i == 0 else 2)
        store.flush()
        other = make_store()  # another process reads them
        assert _states(other, "called") == [("called", "task", *RUNNING), ("called", "task", *DONE)]
        assert _states(other, "submitted") == [("submitted", "task", *s) for s in (PENDING, RUNNING, DONE)]
        assert [s[3] for s in _states(other, "upstream-failed")] == ["Pending", "Failed"]
        assert _states(other, "cached") == [("cached", "task", "COMPLETED", "Cached", "hit", 3.0, "true")]
        assert _states(other, "retried") == [("retried", "task", *s) for s in (RUNNING, *retried)]
        other.close()

    def test_a_run_finished_in_a_later_batch(self, store: Any) -> None:
        store.writer.create_task_run("long", "task", None, None, RUNNING, 1.5, 1)
        store.flush()
        store.writer.set_state("task", "long", DONE, 1.5, 2.5, 1)
        store.flush()
        assert _states(store, "long") == [("long", "task", *RUNNING), ("long", "task", *DONE)]

    def test_a_state_after_a_final_one_keeps_both(self, store: Any) -> None:
        # A run recorded Completed whose caller was then interrupted is recorded Crashed
        # too: the Completed state its row told is written out before the row changes.
        crashed = ("CRASHED", "Crashed", "KeyboardInterrupt", 3.0, None)
        store.writer.create_task_run("t", "task", None, None, RUNNING, 1.5, 1)
        store.writer.set_state("task", "t", DONE, 1.5, 2.5, 1)
        store.flush()
        store.writer.set_state("task", "t", crashed, 1.5, 3.0, 1)
        store.flush()
        assert _states(store, "t") == [("t", "task", *s) for s in (RUNNING, DONE, crashed)]
        assert store.read_task_run("t")["state_type"] == "CRASHED"

    def test_state_data_and_deletion_cover_the_states_a_row_tells(self, store: Any) -> None:
        _flow(store, "f", 1.0)
        store.writer.create_task_run("t", "task", "f", None, RUNNING, 1.5, 1)
        store.writer.set_state("task", "t", DONE, 1.5, 2.5, 1)
        rows = store.read_state_data(["f"])
        assert ("f", "t", "task", DONE[4]) in [(r["flow_run_id"], r["run_id"], r["run_kind"], r["data"])
                                              for r in rows]
        assert store.delete_flow_runs(["f"]) == 2
        assert store.read_states("t") == []
