"""pytest fixtures that isolate conveyor: use with ``pytest_plugins = ["conveyor.testing.fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    ):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def fresh_plugin_manager() -> Iterator[object]:
    """A newly built plugin manager for the test, restored afterwards."""
    pm = plugins.make_plugin_manager()
    with plugins.use_plugin_manager(pm):
        yield pm
