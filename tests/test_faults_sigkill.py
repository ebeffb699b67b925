"""Fault injection in the suite: 20 SIGKILL trials (bench/fault_sigkill.py runs 100)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "fault_sigkill.py"


def _load():
    spec = importlib.util.spec_from_file_location("fault_sigkill", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_twenty_sigkills_leave_no_invalid_reference_no_stuck_run_no_temporary(tmp_path):
    figures = _load().run_trials(20, tmp_path)
    assert figures["killed"] >= 5  # many trials really killed a run in the middle
    assert figures["references"] > 0
    assert figures["references invalid"] == 0
    assert figures["runs stuck after recovery"] == 0
    assert figures["temporary files left after the next run"] == 0
    assert figures["  of which no write intent names (unfindable)"] == 0
