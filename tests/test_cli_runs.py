"""``conveyor runs`` and ``conveyor results``."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from conveyor import flow, get_client, task
from conveyor.cli import main


@task(persist_result=True)
def double(x):
    return x * 2


@task
def in_memory(x):
    return x + 1


@task(persist_result=True)
def nothing():
    return None


@task(persist_result=True)
def raw_bytes():
    return b"\x00\x01payload"


@flow(persist_result=True, result_serializer="json")
def pipeline():
    return {"double": double(2), "in_memory": in_memory.with_options(persist_result=False)(3), "nothing": nothing()}


@flow(name="other-flow")
def other():
    return 1


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_ls_lists_newest_first_with_filters(capsys):
    first = pipeline(return_state=True).run_id
    other()
    second = pipeline(return_state=True).run_id
    code, out, _ = run(capsys, "runs", "ls")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "FLOW", "STATE", "START", "DURATION"]
    assert lines[1].startswith(second) and "Completed" in lines[1]
    assert [line.split()[0] for line in lines[1:]].index(first) == 2
    code, out, _ = run(capsys, "runs", "ls", "--flow", "other-flow", "--json")
    assert code == 0
    assert [r["flow"] for r in json.loads(out)] == ["other-flow"]
    code, out, _ = run(capsys, "runs", "ls", "--limit", "1", "--json")
    assert [r["id"] for r in json.loads(out)] == [second]


def test_runs_ls_empty(capsys):
    code, out, _ = run(capsys, "runs", "ls")
    assert code == 0 and "no flow runs recorded yet" in out


def test_runs_show_lists_tasks_and_where_results_are(capsys):
    state = pipeline(return_state=True)
    code, out, _ = run(capsys, "runs", "show", state.run_id)
    assert code == 0
    assert f"flow run {state.run_id}" in out
    assert "double" in out and "in_memory" in out and "nothing" in out
    assert "literal None (kept in the database)" in out
    assert "not persisted (passed in memory only)" in out
    assert "(json, " in out
    code, out, _ = run(capsys, "runs", "show", state.run_id, "--json")
    doc = json.loads(out)
    kinds = {t["task"]: t["result"]["kind"] for t in doc["task_runs"]}
    assert kinds == {"double": "reference", "in_memory": "unpersisted", "nothing": "literal"}
    ref = next(t["result"] for t in doc["task_runs"] if t["task"] == "double")
    assert set(ref) >= {"storage", "key", "serializer", "size"}


def test_runs_show_never_prints_secrets(capsys, monkeypatch, tmp_path):
    from conveyor.filesystems import LocalFileSystem

    LocalFileSystem(basepath=str(tmp_path / "r")).save("scratch")

    @flow(persist_result=True, result_storage="local-file-system/scratch")
    def saved():
        return double(5)

    state = saved(return_state=True)
    code, out, _ = run(capsys, "runs", "show", state.run_id)
    assert code == 0 and "local-file-system/scratch key" in out


def test_results_get_prints_repr_and_writes_files(capsys, tmp_path):
    state = pipeline(return_state=True)
    code, out, _ = run(capsys, "results", "get", state.run_id)
    assert code == 0
    assert out.strip() == repr({"double": 4, "in_memory": 4, "nothing": None})
    target = tmp_path / "out.json"
    code, _out, err = run(capsys, "results", "get", state.run_id, "-o", str(target))
    assert code == 0 and "json" in err
    assert json.loads(target.read_text())  # readable with the serializer that wrote it

    @flow
    def binary():
        return raw_bytes(return_state=True).run_id

    task_run = binary()
    target = tmp_path / "out.bin"
    assert run(capsys, "results", "get", task_run, "-o", str(target))[0] == 0
    assert target.read_bytes() == b"\x00\x01payload"


def test_results_get_of_pickled_value_writes_a_pickle(capsys, tmp_path):
    @flow(persist_result=True)
    def pickled():
        return {"k": [1, 2, 3]}

    state = pickled(return_state=True)
    target = tmp_path / "value.pkl"
    assert run(capsys, "results", "get", state.run_id, "-o", str(target))[0] == 0
    assert pickle.loads(target.read_bytes()) == {"k": [1, 2, 3]}


def test_results_get_of_unpersisted_result_is_one_line_error(capsys):
    @flow
    def plain():
        return in_memory(1, return_state=True).run_id

    task_run = plain()
    code, out, err = run(capsys, "results", "get", task_run)
    assert code == 1 and out == ""
    assert err.startswith("conveyor: error: ") and len(err.strip().splitlines()) == 1


def test_results_get_of_failed_run_shows_exception_and_exits_1(capsys):
    @flow(persist_result=True)
    def broken():
        raise ValueError("bad input row 7")

    state = broken(return_state=True)
    code, out, err = run(capsys, "results", "get", state.run_id)
    assert code == 1
    assert "ValueError('bad input row 7')" in out
    assert "ended Failed" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "show", "no-such-run"],
        ["results", "get", "no-such-run"],
        ["results", "verify", "no-such-run"],
        ["runs", "ls", "--limit", "-1"],
    ],
)
def test_unknown_ids_are_one_line_errors(capsys, argv):
    code, _out, err = run(capsys, *argv)
    assert code == 1
    assert err.startswith("conveyor: error: ")
    assert len(err.strip().splitlines()) == 1


def test_results_verify_reports_missing_and_damaged(capsys, conveyor_home):
    state = pipeline(return_state=True)
    code, out, _ = run(capsys, "results", "verify", state.run_id)
    assert code == 0 and "checked 2 stored result(s)" in out and ": 0 missing or damaged" in out
    refs = {t.task_name: t.state.data for t in get_client().read_task_runs(state.run_id)}
    storage = refs["double"].resolve_storage()
    path = Path(storage.basepath) / refs["double"].key
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    flow_ref = get_client().read_flow_run(state.run_id).state.data
    (Path(storage.basepath) / flow_ref.key).unlink()
    code, out, _ = run(capsys, "results", "verify")
    assert code == 1
    assert "DAMAGED" in out and "MISSING" in out
    assert ": 2 missing or damaged" in out


def test_every_command_has_help():
    for argv in (["runs", "ls"], ["runs", "show"], ["results", "get"], ["results", "verify"]):
        proc = subprocess.run(
            [sys.executable, "-m", "conveyor.cli", *argv, "--help"], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0 and "usage: conveyor" in proc.stdout


def test_runs_show_lists_subflow_runs(capsys):
    @flow(name="child-flow", persist_result=True)
    def child():
        return [1, 2]

    @flow(name="parent-flow")
    def parent():
        return child()

    state = parent(return_state=True)
    (sub,) = get_client().read_subflow_runs(state.run_id)
    assert sub.flow_name == "child-flow" and sub.state.result() == [1, 2]
    assert get_client().read_subflow_runs(sub.id) == []
    code, out, _ = run(capsys, "runs", "show", state.run_id)
    assert code == 0
    assert "subflow runs (1):" in out and f"{sub.id}  child-flow  Completed" in out
    code, out, _ = run(capsys, "runs", "show", state.run_id, "--json")
    assert [f["id"] for f in json.loads(out)["subflow_runs"]] == [sub.id]
