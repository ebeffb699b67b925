"""Results read back in another process, through their database record only."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from conveyor.filesystems import LocalFileSystem
from conveyor.results import UnpersistedResult, persist_value, result_from_dict
from conveyor.serializers import PickleSerializer

READER = textwrap.dedent(
    """
    import json, sys
    from conveyor.results import result_from_dict, MissingResult
    record = json.loads(sys.stdin.read())
    try:
        value = result_from_dict(record).get()
    except MissingResult as exc:
        print(json.dumps({"missing": str(exc)}))
    else:
        print(json.dumps({"value": value}))
    """
)

WRITER = textwrap.dedent(
    """
    import sys
    from conveyor.filesystems import LocalFileSystem
    from conveyor.results import persist_value
    from conveyor.serializers import PickleSerializer
    ref = persist_value({"from": "child", "n": [1, 2, 3]}, storage=LocalFileSystem(basepath=sys.argv[1]),
                        serializer=PickleSerializer())
    print(ref.json())
    """
)


def run(code: str, stdin: str = "", *args: str) -> str:
    done = subprocess.run(  # noqa: PLW1510 - the return code is asserted below
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_reference_written_here_is_read_in_another_process(tmp_path: Path):
    marker = "MARKER-cross-process-7d2e"
    storage = LocalFileSystem(basepath=str(tmp_path / "results"))
    ref = persist_value(
        {"text": marker, "n": [1, 2]}, storage=storage, serializer=PickleSerializer()
    )
    assert marker not in ref.json()
    out = json.loads(run(READER, ref.json()))
    assert out == {"value": {"text": marker, "n": [1, 2]}}


def test_reference_written_in_another_process_is_read_here(tmp_path: Path):
    record = run(WRITER, "", str(tmp_path / "child-results"))
    assert "child" not in record
    assert result_from_dict(json.loads(record)).get() == {"from": "child", "n": [1, 2, 3]}


def test_unpersisted_result_in_another_process_is_missing():
    out = json.loads(run(READER, UnpersistedResult({"x": 1}).json()))
    assert "in memory only" in out["missing"] and "persist_result=True" in out["missing"]


def test_literal_in_another_process_needs_no_storage():
    out = json.loads(run(READER, json.dumps({"type": "result", "value": "false"})))
    assert out == {"value": False}
