"""The metadata backend conformance suite: what every ``MetadataStore`` must do.

A backend's tests subclass :class:`MetadataStoreConformance` and provide two fixtures:
``make_store``, a function returning a new store object on one fresh, empty database
(call it twice for two stores on the same database, as two processes have), and
``store_url``, that database's location as ``get_store`` and ``CONVEYOR_DATABASE_URL``
take it (for the tests that start other processes)::

    import pytest
    from conveyor.testing.metadata import MetadataStoreConformance

    class TestMyStore(MetadataStoreConformance):
        @pytest.fixture
        def store_url(self, tmp_path):
            return f"sqlite:///{tmp_path}/db.sqlite"

        @pytest.fixture
        def make_store(self, store_url):
            return lambda: MyStore.from_url(store_url)

The store methods of ``results gc`` and ``runs rm`` have their part of the suite in
:mod:`conveyor.testing.metadata_upkeep` (``UpkeepConformance``), and a run's states read
back whole (rows of ``states`` or told by the run's own row) theirs in
:mod:`conveyor.testing.metadata_states` (``StatesConformance``), both mixed into the same
subclass. conveyor runs both for SQLite (``tests/test_metadata_conformance.py``) and the PostgreSQL
plugin for its store. Tests of one backend's own machinery (SQLite's WAL mode and file
permissions, say) stay with that backend.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.exceptions import BlockExistsError, UnknownNameError
from conveyor.metadata import (
    FLOW_RUN_COLUMNS,
    RESULT_RECORD_COLUMNS,
    STATE_COLUMNS,
    TASK_RUN_COLUMNS,
    FlowRunOrigin,
    MetadataStore,
    RunLabels,
    TaskCall,
)
from conveyor.metadata.interface import RESULT_ROW_COLUMNS

DONE = ("COMPLETED", "Completed", None, 1.0, "true")
RUNNING = ("RUNNING", "Running", None, 1.0, None)

WRITER = textwrap.dedent(
    """
    import sys
    from conveyor.metadata import get_store
    s = get_store(sys.argv[1])
    worker = sys.argv[2]
    for i in range(int(sys.argv[3])):
        s.save_block("local-file-system", f"w{worker}-{i}", {"basepath": f"/{worker}/{i}"})
        s.writer.create_flow_run(f"run-{worker}-{i}", "flow", None, None,
                                 ("COMPLETED", "Completed", None, float(i), "true"), 0.0, 1)
    s.flush()
    """
)


def _flow(store: MetadataStore, run_id: str, created: float, name: str = "flow",
          parent: str | None = None, state: tuple[Any, ...] = DONE, **origin: Any) -> None:
    st = (*state[:3], created, state[4])
    store.writer.create_flow_run(run_id, name, f"t-{parent}" if parent else None, parent, st,
                                 created, 1, FlowRunOrigin(**origin) if origin else None)


class MetadataStoreConformance:
    """What every metadata backend must do. Subclass it; provide ``make_store`` and ``store_url``."""

    @pytest.fixture
    def make_store(self) -> Callable[[], MetadataStore]:
        raise NotImplementedError("a conformance test class must define the make_store fixture")

    @pytest.fixture
    def store_url(self) -> str:
        raise NotImplementedError("a conformance test class must define the store_url fixture")

    @pytest.fixture
    def store(self, make_store: Callable[[], MetadataStore]) -> Any:
        store = make_store()
        yield store
        store.flush()
        store.close()

    # -- the database and its schema ---------------------------------------------------

    def test_location_is_a_string_without_a_password(self, store: Any) -> None:
        assert isinstance(store.location, str) and store.location
        assert ":secret@" not in store.location

    def test_a_read_only_context_creates_nothing(self, store: Any, make_store: Any) -> None:
        assert not store.exists
        with store.reading_only():
            assert store.read_flow_runs() == [] and store.list_blocks() == []
            assert store.read_flow_run("x") is None and store.find_run_ids("x") == []
        assert not make_store().exists
        store.list_blocks()  # a read outside creates the database
        assert store.exists and make_store().exists

    def test_schema_version_is_recorded_once(self, store: Any, make_store: Any) -> None:
        version = store.schema_version
        assert isinstance(version, int) and version >= 1
        assert make_store().schema_version == version

    # -- blocks ------------------------------------------------------------------------

    def test_block_documents_are_deduplicated(self, store: Any) -> None:
        a = store.put_block_document("local-file-system", {"basepath": "/a"})
        b = store.put_block_document("local-file-system", {"basepath": "/a"})
        c = store.put_block_document("local-file-system", {"basepath": "/b"})
        assert a == b != c
        assert store.get_block_document(a) == ("local-file-system", {"basepath": "/a"})
        with pytest.raises(UnknownNameError, match="no-such"):
            store.get_block_document("no-such")

    def test_saved_block_round_trip_and_overwrite(self, store: Any) -> None:
        store.save_block("local-file-system", "dev", {"basepath": "/a"})
        with pytest.raises(BlockExistsError, match="overwrite=True"):
            store.save_block("local-file-system", "dev", {"basepath": "/b"})
        assert store.load_block("local-file-system", "dev") == {"basepath": "/a"}
        store.save_block("local-file-system", "dev", {"basepath": "/b"}, overwrite=True)
        assert store.load_block("local-file-system", "dev") == {"basepath": "/b"}
        assert store.list_blocks() == [("local-file-system", "dev", {"basepath": "/b"})]
        assert store.delete_block("local-file-system", "dev") is True
        assert store.delete_block("local-file-system", "dev") is False
        assert store.load_block("local-file-system", "dev") is None

    def test_blocks_are_listed_by_type_then_name(self, store: Any) -> None:
        for btype, name in (("s3", "b"), ("local-file-system", "Z"), ("s3", "a"), ("local-file-system", "a")):
            store.save_block(btype, name, {"n": name})
        assert [(t, n) for t, n, _c in store.list_blocks()] == [
            ("local-file-system", "Z"), ("local-file-system", "a"), ("s3", "a"), ("s3", "b")]
        assert [n for _t, n, _c in store.list_blocks("s3")] == ["a", "b"]

    def test_saved_block_names(self, store: Any) -> None:
        store.save_block("local-file-system", "b", {"basepath": "/a"})
        store.save_block("local-file-system", "a", {"basepath": "/a"})
        store.save_block("local-file-system", "c", {"basepath": "/c"})
        doc = store.put_block_document("local-file-system", {"basepath": "/a"})
        assert store.saved_block_names(doc) == [("local-file-system", "a"), ("local-file-system", "b")]
        assert store.saved_block_names("no-such-document") == []

    # -- runs, states, the cache -------------------------------------------------------

    def test_rows_have_the_documented_keys(self, store: Any) -> None:
        store.writer.create_flow_run("f1", "flow", None, None, DONE, 1.0, 1)
        store.writer.create_task_run("t1", "task", "f1", None, DONE, 1.0, 1)
        store.flush()
        assert tuple(store.read_flow_run("f1").keys()) == FLOW_RUN_COLUMNS
        assert tuple(store.read_task_run("t1").keys()) == TASK_RUN_COLUMNS
        assert tuple(store.read_states("f1")[0].keys()) == STATE_COLUMNS
        assert tuple(store.read_result_records()[0].keys()) == RESULT_RECORD_COLUMNS
        assert tuple(store.read_result_rows()[0].keys()) == RESULT_ROW_COLUMNS
        assert store.read_flow_run("f1")[0] == "f1"  # by position too

    def test_every_column_round_trips(self, store: Any, make_store: Any) -> None:
        origin = FlowRunOrigin("mod:flow", '{"ref": 1}', "f0", "host-a", 4242, 1700000000.25)
        store.writer.create_flow_run("f1", "flow", None, None, RUNNING, 1.5, 1, origin,
                                     RunLabels("nightly", ("a", "b")))
        store.writer.create_task_run("t1", "task", "f1", "ck", RUNNING, 2.5, 1,
                                     TaskCall(3, "h1", 2), RunLabels("t-name", ("x",)))
        store.writer.set_state("task", "t1", ("COMPLETED", "Cached", "m", 3.25, '{"r": 1}'), 2.5, 4.0, 2)
        store.flush()
        store.writer.set_input_hash("t1", "h2")
        store.writer.set_state("flow", "f1", ("FAILED", "Failed", "boom", 5.0, None), 9.0, 6.0, 2)
        store.flush()
        other = make_store()  # another process reads the same values
        f, t = other.read_flow_run("f1"), other.read_task_run("t1")
        assert dict(zip(f.keys(), f)) == {
            "id": "f1", "flow_name": "flow", "parent_task_run_id": None, "parent_flow_run_id": None,
            "state_type": "FAILED", "state_name": "Failed", "state_message": "boom",
            "state_timestamp": 5.0, "state_data": None, "start_time": 1.5, "end_time": 6.0,
            "run_count": 2, "created": 1.0, "flow_ref": "mod:flow", "parameters": '{"ref": 1}',
            "resumed_from": "f0", "host": "host-a", "pid": 4242, "process_start": 1700000000.25,
            "run_name": "nightly", "tags": '["a", "b"]',
        }
        assert (t["state_name"], t["state_data"], t["start_time"], t["end_time"], t["run_count"],
                t["call_position"], t["input_hash"], t["flow_attempt"], t["run_name"], t["tags"],
                t["cache_key"]) == ("Cached", '{"r": 1}', 2.5, 4.0, 2, 3, "h2", 2, "t-name", '["x"]', "ck")
        assert [s["name"] for s in other.read_states("t1")] == ["Running", "Cached"]
        assert [s["type"] for s in other.read_states("f1")] == ["RUNNING", "FAILED"]
        other.close()

    def test_reads_see_queued_rows_and_other_stores_see_them_after_flush(self, store: Any, make_store: Any) -> None:
        store.writer.create_flow_run("f1", "flow", None, None, RUNNING, 1.0, 1)
        assert store.read_flow_run("f1")["state_type"] == "RUNNING"  # reads flush first
        assert make_store().read_flow_run("f1") is not None

    def test_flow_runs_newest_first_with_filters(self, store: Any) -> None:
        _flow(store, "a", 1.0)
        _flow(store, "b", 2.0, name="other")
        _flow(store, "c", 3.0)
        _flow(store, "d", 3.0)  # same time: creation order decides
        assert [r["id"] for r in store.read_flow_runs()] == ["d", "c", "b", "a"]
        assert [r["id"] for r in store.read_flow_runs(flow_name="flow")] == ["d", "c", "a"]
        assert [r["id"] for r in store.read_flow_runs(limit=1)] == ["d"]
        assert store.read_flow_runs(flow_name="nothing") == []
        assert store.read_flow_names() == ["flow", "other"]

    def test_subflows_task_runs_and_resumed_runs_in_creation_order(self, store: Any) -> None:
        _flow(store, "p", 1.0)
        _flow(store, "s2", 2.0, parent="p")
        _flow(store, "s1", 2.0, parent="p")
        _flow(store, "r", 3.0, resumed_from="p")
        for i, tid in enumerate(["tb", "ta", "tc"]):
            store.writer.create_task_run(tid, "task", "p", None, DONE, 1.0 + (i == 2), 1)
        assert [r["id"] for r in store.read_subflow_runs("p")] == ["s2", "s1"]
        assert [r["id"] for r in store.read_task_runs("p")] == ["tb", "ta", "tc"]
        assert [r["id"] for r in store.read_resumed_runs("p")] == ["r"]
        assert store.read_task_runs("nothing") == [] and store.read_task_run("nothing") is None

    def test_result_records_and_rows(self, store: Any) -> None:
        _flow(store, "f1", 1.0, name="etl")
        _flow(store, "f2", 2.0, name="other", state=("FAILED", "Failed", "x", 2.0, None))
        store.writer.create_task_run("t1", "load", "f1", None, ("COMPLETED", "Completed", None, 1.5, '"r"'), 1.5, 1)
        store.writer.create_task_run("t2", "load", "f2", None, RUNNING, 2.0, 1)
        records = {(r["kind"], r["id"]): r["state_data"] for r in store.read_result_records()}
        assert records == {("flow", "f1"): "true", ("task", "t1"): '"r"'}
        rows = store.read_result_rows()
        assert [(r["kind"], r["id"], r["name"], r["flow_run_id"], r["flow_name"]) for r in rows] == [
            ("task", "t1", "load", "f1", "etl"), ("flow", "f1", "etl", "f1", "etl")]
        assert [r["id"] for r in store.read_result_rows(flow_name="other")] == []
        assert [r["id"] for r in store.read_result_rows(flow_run_id="f1", since=1.2)] == ["t1"]

    def test_cache_entries_seen_before_commit_expire_and_are_deleted(self, store: Any) -> None:
        store.writer.put_cache("k", "t1", '"v1"', 1.0, None)
        assert store.cache_lookup("k", 5.0) == '"v1"'  # queued, not yet committed
        store.writer.put_cache("k", "t2", '"v2"', 2.0, 10.0)  # replaces
        store.flush()
        assert store.cache_lookup("k", 5.0) == '"v2"'
        assert store.cache_entry("k", 5.0) == ('"v2"', 10.0)
        assert store.cache_lookup("k", 10.0) is None and store.cache_entry("k", 10.0) is None  # expired
        assert store.cache_lookup("other", 5.0) is None
        store.cache_delete("k")
        assert store.cache_lookup("k", 5.0) is None
        store.cache_delete("k")  # nothing to delete: no error

    def test_write_intents_recorded_and_forgotten_with_their_reference(self, store: Any) -> None:
        store.record_write_intent("doc", "key-1", "t1")
        store.record_write_intent("doc", "key-2", None)
        store.record_write_intent("doc", "key-1", "t9")  # again: replaced
        assert [(r["key"], r["run_id"]) for r in store.read_write_intents()] == [
            ("key-2", None), ("key-1", "t9")]
        assert set(store.read_write_intents()[0].keys()) == {"storage_document", "key", "run_id", "created"}
        store.writer.create_task_run("t9", "task", None, None, DONE, 1.0, 1)
        store.writer.forget_write_intent("doc", "key-1")
        store.flush()
        assert [r["key"] for r in store.read_write_intents()] == ["key-2"]

    def test_unfinished_runs_and_mark_crashed(self, store: Any) -> None:
        _flow(store, "f", 1.0, state=RUNNING)
        _flow(store, "sub", 2.0, parent="f", state=RUNNING)
        _flow(store, "done", 3.0)
        store.writer.create_task_run("t-run", "task", "f", None, RUNNING, 1.0, 1)
        store.writer.create_task_run("t-sub", "task", "sub", None, RUNNING, 2.0, 1)
        store.writer.create_task_run("t-done", "task", "f", None, DONE, 1.0, 1)
        assert [r["id"] for r in store.read_unfinished_flow_runs()] == ["f"]
        assert store.mark_crashed("f", "killed", 9.0) == 4
        for run_id in ("f", "sub"):
            row = store.read_flow_run(run_id)
            assert (row["state_type"], row["state_message"], row["end_time"]) == ("CRASHED", "killed", 9.0)
        assert store.read_task_run("t-sub")["state_name"] == "Crashed"
        assert store.read_task_run("t-done")["state_type"] == "COMPLETED"
        assert store.read_states("t-run")[-1]["type"] == "CRASHED"
        assert store.read_unfinished_flow_runs() == []
        assert store.mark_crashed("f", "again", 10.0) == 0
        assert store.mark_crashed("no-such-run", "x", 10.0) == 0

    # -- browsing --------------------------------------------------------------------

    def test_run_ids_by_prefix_and_top_level_pages(self, store: Any) -> None:
        state = ("COMPLETED", "Completed", None, 1.0, None)
        store.writer.create_flow_run("ab1", "flow", None, None, state, 1.0, 1)
        store.writer.create_flow_run("ab2", "flow", "t-ab3", "ab1", (*state[:3], 2.0, None), 2.0, 1)
        store.writer.create_task_run("ab3", "task", "ab1", None, state, 1.5, 1)
        store.writer.create_task_run("b", "task", "ab1", None, state, 1.5, 1)
        store.flush()
        assert store.find_run_ids("ab") == [("flow", "ab1"), ("flow", "ab2"), ("task", "ab3")]
        assert store.find_run_ids("ab", limit=2) == [("flow", "ab1"), ("flow", "ab2")]
        assert store.find_run_ids("ab3") == [("task", "ab3")]
        assert store.find_run_ids("c") == [] and store.find_run_ids("") == []
        assert [r["id"] for r in store.read_flow_run_page()[0]] == ["ab2", "ab1"]
        assert [r["id"] for r in store.read_flow_run_page(top_level=True)[0]] == ["ab1"]

    def test_ids_compare_by_bytes(self, store: Any) -> None:
        for run_id in ("a-b", "aB", "a_b", "ab", "a.b"):
            _flow(store, run_id, 1.0)
        assert [i for _k, i in store.find_run_ids("a")] == sorted(["a-b", "aB", "a_b", "ab", "a.b"])

    def test_keyset_pages_walk_every_run_once_both_ways(self, store: Any) -> None:
        for i in range(23):
            _flow(store, f"r{i:02d}", float(i // 2), name="even" if i % 2 == 0 else "odd",
                  state=DONE if i % 3 else RUNNING)
        seen, cursor, pages = [], None, []
        while True:
            rows, older, newer = store.read_flow_run_page(cursor=cursor, limit=5)
            pages.append((cursor, [r["id"] for r in rows], newer))
            seen += [r["id"] for r in rows]
            if older is None:
                break
            cursor = older
        assert seen == [r["id"] for r in store.read_flow_runs()] and len(set(seen)) == 23
        _cursor, last_ids, back = pages[-1]
        rows, _older, _newer = store.read_flow_run_page(cursor=back, newer=True, limit=5)
        assert [r["id"] for r in rows] == pages[-2][1]
        assert [r["id"] for r in store.read_flow_run_page(state="RUNNING", limit=100)[0]] == [
            f"r{i:02d}" for i in range(22, -1, -1) if i % 3 == 0]
        assert [r["id"] for r in store.read_flow_run_page(flow_name="odd", since=3.0, until=5.0)[0]] == [
            "r09", "r07"]
        with pytest.raises(ValueError, match="not one this store made"):
            store.read_flow_run_page(cursor="garbage")

    # -- many writers ------------------------------------------------------------------

    def test_threads_write_at_once_without_loss(self, store: Any) -> None:
        def work(n: int) -> None:
            for i in range(50):
                store.writer.create_task_run(f"t{n}-{i}", "task", "f", None, DONE, 1.0, 1)
                store.save_block("b", f"n{n}-{i}", {"i": i}) if i % 10 == 0 else None

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        _flow(store, "f", 1.0)
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(store.read_task_runs("f")) == 200 and len(store.list_blocks()) == 20

    def test_several_processes_create_the_schema_and_write_at_once(self, store_url: str, make_store: Any) -> None:
        per_worker, workers = 30, 4
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, store_url, str(w), str(per_worker)])
                 for w in range(workers)]
        assert [p.wait(timeout=180) for p in procs] == [0] * workers
        store = make_store()
        assert len({name for _t, name, _c in store.list_blocks()}) == per_worker * workers
        assert len(store.read_flow_runs()) == per_worker * workers
        store.close()


__all__ = ["MetadataStoreConformance"]
