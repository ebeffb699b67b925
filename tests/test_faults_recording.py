"""The metadata database refuses rows (a full disk): the run stops at its first state
that cannot be recorded, with a clear error; what was recorded before stays."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from conveyor import flow, get_client, task
from conveyor.exceptions import MetadataError
from conveyor.metadata import schema
from conveyor.metadata import writer as writer_module


def _wait_for_the_writer_to_stop() -> None:
    """The writer thread stops when idle, closing its connection (the next one is new)."""
    deadline = time.monotonic() + 20
    while any(t.name == "conveyor-store-writer" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the writer thread did not stop"
        time.sleep(0.02)


def test_a_full_database_stops_the_run_at_the_first_write_that_cannot_be_recorded(monkeypatch, tmp_path):
    executed = []

    @task
    def step(i):
        executed.append(i)
        time.sleep(0.001)  # the writer commits (and fails) while the run goes on
        return i

    @flow
    def many():
        return [step(i) for i in range(3000)]

    monkeypatch.setattr(writer_module, "IDLE_SECONDS", 0.05)  # its thread closes its connection
    many.with_options(name="warm-up")()  # the database exists, with its schema
    _wait_for_the_writer_to_stop()
    real_connect = schema.connect

    def small_connect(path):
        conn = real_connect(path)
        size = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {size + 8}")  # a few pages left: a disk nearly full
        return conn

    monkeypatch.setattr(schema, "connect", small_connect)
    get_client().store.close()
    executed.clear()
    with pytest.raises(MetadataError, match=r"metadata database .*conveyor.db.*disk is full"):
        many()
    assert 0 < len(executed) < 3000  # it stopped on the way, it did not run everything
    monkeypatch.setattr(schema, "connect", real_connect)
    get_client().store.close()
    _wait_for_the_writer_to_stop()
    runs = get_client().read_flow_runs()
    assert [r.flow_name for r in runs][-1] == "warm-up"  # what was recorded before stays
    conn = sqlite3.connect(str(get_client().store.path))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_every_write_is_recorded_as_an_intent_first_and_forgotten_with_its_reference(tmp_path):
    import attrs
    from conveyor.filesystems import LocalFileSystem
    from conveyor.metadata import get_store

    seen = []

    @attrs.frozen
    class Watching(LocalFileSystem):
        def write_path(self, path, content):  # the intent is committed before any byte
            seen.append(sorted(r["key"] for r in get_store().read_write_intents()))
            return super().write_path(path, content)

        def open_write(self, path):
            seen.append(sorted(r["key"] for r in get_store().read_write_intents()))
            return super().open_write(path)

    @task(result_storage=Watching(basepath=str(tmp_path / "watched")))
    def make():
        return {"v": 1}

    @flow
    def pipeline():
        return make(return_state=True).data.key

    key = pipeline()
    assert seen and key in seen[0]
    assert list(get_store().read_write_intents()) == []  # gone with the recorded reference
