"""The metadata backend conformance suite, part two: ``results gc``, ``runs rm`` and input
lineage. Mix :class:`UpkeepConformance` into the subclass of
:class:`conveyor.testing.metadata.MetadataStoreConformance` (it uses its fixtures)::

    class TestMyStore(MetadataStoreConformance, UpkeepConformance):
        ...
"""

from __future__ import annotations

from typing import Any

from conveyor.testing.metadata import DONE, _flow


class UpkeepConformance:
    """The store methods of ``results gc`` and ``runs rm``
    (:class:`~conveyor.metadata.upkeep.UpkeepStore`: cache entries, state data, deleting
    runs, write intents by key, deleted results) and input lineage (``set_task_inputs``).
    Mixed into a subclass of :class:`MetadataStoreConformance`."""

    def test_set_task_inputs(self, store: Any) -> None:
        store.writer.create_task_run("t1", "task", None, None, DONE, 1.0, 1)
        store.flush()
        store.writer.set_task_inputs("t1", '{"x": ["t0"]}')
        store.writer.create_task_run("t2", "task", None, None, DONE, 1.0, 1)
        store.writer.set_task_inputs("t2", '{"y": ["t1"]}')  # folded into its INSERT
        store.flush()
        assert store.read_task_run("t1")["inputs"] == '{"x": ["t0"]}'
        assert store.read_task_run("t2")["inputs"] == '{"y": ["t1"]}'

    def test_cache_entries_not_expired(self, store: Any) -> None:
        store.writer.put_cache("a", "t1", '"A"', 1.0, None)
        store.writer.put_cache("b", "t2", '"B"', 2.0, 5.0)
        entries = store.read_cache_entries(4.0)
        assert [(e["cache_key"], e["task_run_id"], e["data"], e["created"], e["expires"])
                for e in sorted(entries, key=lambda e: e["cache_key"])] == [
            ("a", "t1", '"A"', 1.0, None), ("b", "t2", '"B"', 2.0, 5.0)]
        assert [e["cache_key"] for e in store.read_cache_entries(5.0)] == ["a"]

    def test_state_data_of_flow_runs_and_their_task_runs(self, store: Any) -> None:
        _flow(store, "f", 1.0, state=("COMPLETED", "Completed", None, 1.0, '"F"'))
        _flow(store, "sub", 2.0, parent="f", state=("COMPLETED", "Completed", None, 2.0, '"S"'))
        store.writer.create_task_run("t", "task", "f", None, ("RUNNING", "Running", None, 1.0, None), 1.0, 1)
        store.writer.set_state("task", "t", ("FAILED", "Retrying", None, 1.1, '"E1"'), 1.0, None, 1)
        store.writer.set_state("task", "t", ("COMPLETED", "Completed", None, 1.2, '"T"'), 1.0, 1.2, 2)
        store.writer.create_task_run("u", "task", "sub", None, DONE, 2.0, 1)
        rows = store.read_state_data(["f"])
        assert sorted((r["flow_run_id"], r["run_id"], r["run_kind"], r["data"]) for r in rows) == [
            ("f", "f", "flow", '"F"'), ("f", "t", "task", '"E1"'), ("f", "t", "task", '"T"')]
        assert store.read_state_data([]) == []

    def test_delete_flow_runs_takes_everything_of_theirs(self, store: Any) -> None:
        _flow(store, "f", 1.0)
        _flow(store, "keep", 2.0)
        for tid, fid in (("t1", "f"), ("t2", "f"), ("t3", "keep")):
            store.writer.create_task_run(tid, "task", fid, None, DONE, 1.0, 1)
            store.writer.put_cache(f"k-{tid}", tid, "true", 1.0, None)
        store.record_write_intent("doc", "key-f", "t1")
        store.record_write_intent("doc", "key-keep", "t3")
        assert store.delete_flow_runs(["f"]) == 3
        assert store.read_flow_run("f") is None and store.read_task_runs("f") == []
        assert store.read_states("t1") == [] and store.read_states("f") == []
        assert store.cache_lookup("k-t1", 2.0) is None and store.cache_lookup("k-t3", 2.0) == "true"
        assert [r["key"] for r in store.read_write_intents()] == ["key-keep"]
        assert store.read_flow_run("keep") is not None and len(store.read_states("t3")) == 1
        assert store.delete_flow_runs([]) == 0 and store.delete_flow_runs(["no-such"]) == 0

    def test_write_intents_removed_by_key(self, store: Any) -> None:
        for key in ("a", "b", "c"):
            store.record_write_intent("doc", key, None)
        store.remove_write_intents([("doc", "a"), ("doc", "c"), ("other", "b")])
        assert [r["key"] for r in store.read_write_intents()] == ["b"]
        store.remove_write_intents([])

    def test_deleted_results_are_remembered(self, store: Any) -> None:
        assert store.read_deleted_result("doc", "k", "sha") is None
        store.record_deleted_results([("doc", "k", "sha"), ("doc", "k2", "sha2")], 5.0, "gc")
        store.record_deleted_results([("doc", "k", "sha")], 6.0, "runs rm")  # replaced
        assert store.read_deleted_result("doc", "k", "sha") == (6.0, "runs rm")
        assert store.read_deleted_result("doc", "k2", "sha2") == (5.0, "gc")
        assert store.read_deleted_result("doc", "k", "other") is None

    def test_write_intents_queued_in_one_batch_keep_the_last_word(self, store: Any, make_store: Any) -> None:
        w = store.writer
        w.write_intent("doc", "again", "t1", 1.0)
        w.forget_write_intent("doc", "again")
        w.write_intent("doc", "again", "t2", 2.0)  # the same key written once more
        w.write_intent("doc", "gone", "t1", 1.0)
        w.forget_write_intent("doc", "gone")
        w.create_task_run("t3", "task", None, None, DONE, 1.0, 1)
        store.record_write_intent("doc", "now", "t3")  # commits the queued rows with it
        other = make_store()  # another process sees all of it at once
        assert sorted((r["key"], r["run_id"]) for r in other.read_write_intents()) == [
            ("again", "t2"), ("now", "t3")]
        assert other.read_task_run("t3") is not None
        other.close()


__all__ = ["UpkeepConformance"]
