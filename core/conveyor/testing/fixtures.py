"""pytest fixtures that isolate conveyor: use with ``pytest_plugins = ["conveyor.testing.fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor import plugins


@pytest.fixture
def conveyor_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``CONVEYOR_HOME`` and default result folder for one test."""
    home = tmp_path / "conveyor-home"
    results = tmp_path / "conveyor-results"
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    monkeypatch.setenv("CONVEYOR_LOCAL_STORAGE_PATH", str(results))
    for var in (
        "CONVEYOR_RESULTS_DEFAULT_SERIALIZER",
        "CONVEYOR_RESULTS_PERSIST_BY_DEFAULT",
        "CONVEYOR_DISABLE_PLUGINS",
        "CONVEYOR_TASK_RUNNER",
        "CONVEYOR_DATABASE_URL",
        "CONVEYOR_RESULTS_DEFAULT_STORAGE",
    ):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def fresh_plugin_manager() -> Iterator[object]:
    """A newly built plugin manager for the test, restored afterwards."""
    pm = plugins.make_plugin_manager()
    with plugins.use_plugin_manager(pm):
        yield pm


@pytest.fixture
def calls(tmp_path: Path) -> Any:
    """A file each task body appends a name to (``calls.record(name)``; ``calls()`` lists
    the names in order): counts executions outside the process's memory, so it sees task
    bodies run in other threads or processes (a Dask worker) alike. Closures, so they pickle
    by value."""
    log = tmp_path / "calls.txt"
    log.write_text("")

    def record(name: str) -> None:
        with log.open("a") as f:
            f.write(name + "\n")

    def read() -> list[str]:
        return log.read_text().split()

    read.record = record  # type: ignore[attr-defined]
    return read
