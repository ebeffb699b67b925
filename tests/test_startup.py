"""Start-up stays light: entry points found without parsing metadata, plugins' classes and
heavy modules only imported by what uses them (each checked in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conveyor import flow
from conveyor.plugins.discovery import find_entry_points, parse_entry_points

FLOW = """
import json, sys
from conveyor import flow, task

@task
def hello(name):
    return f"hello {name}"

@flow
def one_task():
    return hello("world")

assert one_task() == "hello world"
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(code: str, tmp_path: Path, *args: str) -> set[str]:
    env = {**os.environ, "CONVEYOR_HOME": str(tmp_path / "home"),
           "CONVEYOR_LOCAL_STORAGE_PATH": str(tmp_path / "results")}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, check=True, timeout=120)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


PERSISTING_FLOW = """
import json, sys
from conveyor import flow, task

@task(persist_result=True)
def double(x):
    return 2 * x

@flow
def kept(n):
    return double(n)

assert kept(21) == 42
print(json.dumps(sorted(sys.modules)))
"""

#: What no flow run that keeps its results in a local folder imports: other plugins'
#: classes and their libraries (they register by name, conveyor.markers.ClassRef), the
#: compressed serializer, the plugin listing, resuming, the UI.
NOT_FOR_A_LOCAL_RUN = (
    "boto3", "botocore", "conveyor_storage_s3.s3", "distributed", "dask",
    "conveyor_runner_dask.dask", "conveyor_runner_dask.collector", "psycopg",
    "conveyor_metadata_postgres.postgres", "conveyor_metadata_postgres.backend",
    "conveyor_serializer_json.json_serializer", "conveyor.serialization.compressed",
    "conveyor.plugins.listing", "conveyor.engine.resume", "conveyor.engine.recovery",
    "starlette", "jinja2", "conveyor.cli",
)


def test_a_one_task_flow_parses_no_distribution_metadata(tmp_path: Path) -> None:
    loaded = _modules_after(FLOW, tmp_path)
    assert "conveyor_storage_local.hooks" in loaded  # the plugins did load
    for heavy in ("email.parser", "importlib_metadata", "importlib.metadata", "starlette", "boto3"):
        assert heavy not in loaded, f"a one-task flow imported {heavy}"


def test_a_one_task_flow_imports_only_what_it_uses(tmp_path: Path) -> None:
    loaded = _modules_after(FLOW, tmp_path)
    # it writes no result: the default storage and serializer are never built
    for heavy in (*NOT_FOR_A_LOCAL_RUN, "conveyor.results.read", "conveyor.results.verification",
                  "asyncio", "conveyor_serializer_pickle.pickle_serializer", "cloudpickle",
                  "conveyor_storage_local.local"):
        assert heavy not in loaded, f"a one-task flow imported {heavy}"


def test_a_default_that_names_nothing_installed_still_fails_the_run_before_its_body(
    tmp_path: Path, monkeypatch: Any,
) -> None:
    # The defaults are checked by name at the start, though built only when first needed.
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "yaml")
    ran: list[int] = []

    @flow
    def nothing_kept() -> int:
        ran.append(1)
        return 1

    state = nothing_kept(return_state=True)
    assert state.is_failed() and "CONVEYOR_RESULTS_DEFAULT_SERIALIZER" in (state.message or "")
    assert ran == []


def test_a_flow_persisting_to_a_local_folder_imports_no_other_plugin(tmp_path: Path) -> None:
    loaded = _modules_after(PERSISTING_FLOW, tmp_path)
    assert "conveyor_storage_local.local" in loaded and "conveyor.results.write" in loaded
    for heavy in NOT_FOR_A_LOCAL_RUN:
        assert heavy not in loaded, f"a flow persisting locally imported {heavy}"


def test_the_runs_command_imports_no_ui_and_no_metadata_parser(tmp_path: Path) -> None:
    code = ("import json, sys\nfrom conveyor.cli import main\nmain(['runs', 'ls'])\n"
            "print(json.dumps(sorted(sys.modules)))")
    loaded = _modules_after(code, tmp_path)
    for heavy in ("email.parser", "importlib_metadata", "starlette", "jinja2", "uvicorn", "boto3"):
        assert heavy not in loaded, f"conveyor runs ls imported {heavy}"


def test_entry_points_txt_is_parsed_by_group() -> None:
    text = "[console_scripts]\nx = a:b\n\n[conveyor]\n# a comment\nstorage-x = pkg.hooks\nother = pkg.m:obj.attr [extra]\n"
    assert parse_entry_points(text, "conveyor") == [
        ("storage-x", "pkg.hooks"), ("other", "pkg.m:obj.attr [extra]")
    ]


def test_the_first_distribution_of_a_name_on_the_path_wins(tmp_path: Path) -> None:
    for folder, value in (("one", "first.hooks"), ("two", "second.hooks")):
        meta = tmp_path / folder / "conveyor_thing-1.0.dist-info"
        meta.mkdir(parents=True)
        (meta / "entry_points.txt").write_text(f"[conveyor]\nthing = {value}\n")
        (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: conveyor-thing\nVersion: 1.0\n")
    found = find_entry_points("conveyor", [str(tmp_path / "one"), str(tmp_path / "two")])
    assert [(ep.name, ep.value) for ep in found] == [("thing", "first.hooks")]
    assert found[0].dist.metadata["Name"] == "conveyor-thing"  # read only when asked
    assert found[0].dist.version == "1.0"


def test_the_same_entry_points_as_importlib_metadata() -> None:
    import importlib.metadata

    ours = sorted((ep.name, ep.value) for ep in find_entry_points("conveyor"))
    theirs = sorted((ep.name, ep.value) for ep in importlib.metadata.entry_points(group="conveyor"))
    assert ours == theirs
