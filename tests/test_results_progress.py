"""A long result write or read logs its progress (thresholds lowered: no test waits)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from conveyor.filesystems import LocalFileSystem
from conveyor.results import persist_value, result_from_dict
from conveyor.results import transfer
from conveyor.results.payload import check_payload
from conveyor.serializers import PickleSerializer


class Trickle(io.RawIOBase):
    """A non-seekable source that gives at most 1 KiB a read (a slow network body)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buffer), 1024, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "PROGRESS_MIN_BYTES", 1000)
    monkeypatch.setattr(transfer, "PROGRESS_FIRST_SECONDS", 0.0)
    monkeypatch.setattr(transfer, "PROGRESS_EVERY_SECONDS", 0.0)


def lines(caplog: pytest.LogCaptureFixture, verb: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "conveyor.results" and r.getMessage().startswith(verb)]


def test_persist_and_load_log_progress(tmp_path, eager, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="conveyor.results")
    storage = LocalFileSystem(basepath=str(tmp_path))
    value = b"x" * 200_000
    ref = persist_value(value, storage=storage, serializer=PickleSerializer(), key="big")
    written = lines(caplog, "writing")
    assert written and "MB/s" in written[0] and "big" in written[0]
    assert written[-1].endswith("(done)")
    assert result_from_dict(json.loads(ref.json())).get() == value
    read = lines(caplog, "reading")
    assert read and "of 195.3 KiB (100%)" in read[0] and read[-1].endswith("(done)")


def test_slow_source_logs_bytes_done(eager, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="conveyor.results")
    data = bytes(range(256)) * 100
    payload, spool = check_payload(Trickle(data), "slow/key", format=2)
    try:
        assert payload.reader.read() == data
    finally:
        spool.close()
    read = lines(caplog, "reading slow/key")
    assert len(read) >= 2  # a line when due (here: every chunk), then the last one
    assert read[0].startswith("reading slow/key: 25.0 KiB, ")  # no total known: bytes done
    assert "MB/s" in read[0] and read[-1].endswith("(done)")


def test_small_or_quick_transfers_log_nothing(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="conveyor.results")
    storage = LocalFileSystem(basepath=str(tmp_path))
    ref = persist_value(b"small", storage=storage, serializer=PickleSerializer(), key="small")
    assert result_from_dict(json.loads(ref.json())).get() == b"small"
    assert not lines(caplog, "writing") and not lines(caplog, "reading")
