"""``conveyor runs`` and ``conveyor results`` at scale: limits, filters, subflows, id
prefixes, grouped task runs, closed pipes, superseded keys, ``results ls|show`` and
``runs show --parameters`` (issue 11 points 3, 5 and 6)."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conveyor import flow, get_client, task
from conveyor.cli import main
from conveyor.engine.ids import new_run_id
from conveyor.metadata import get_store


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err):
    return code == 1 and err.startswith("conveyor: error: ") and len(err.strip().splitlines()) == 1


@task(persist_result=True)
def square(x):
    if x == 13:
        raise ValueError("unlucky 13")
    return x * x


@flow(name="tiny")
def tiny(n: int = 1):
    return n


@flow(name="breaks")
def breaks():
    raise RuntimeError("no")


@flow(name="child")
def child():
    return 2


@flow(name="parent")
def parent():
    return child() + 1


# -- run ids ------------------------------------------------------------------------------


def test_run_ids_are_random_uuid4s_that_differ_from_their_first_characters():
    ids = [new_run_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)
    assert len({i[:6] for i in ids}) > 1990  # a short prefix names one run


def test_run_ids_differ_after_fork():
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_run_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    theirs = os.read(read, 64).decode()
    assert theirs != new_run_id() and len(theirs) == 36


# -- runs ls ------------------------------------------------------------------------------


def test_runs_ls_shows_the_newest_50_by_default(capsys):
    ids = [tiny(i, return_state=True).run_id for i in range(53)]
    code, out, _ = run(capsys, "runs", "ls")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 1 + 50 + 1
    assert [line.split()[0] for line in lines[1:51]] == ids[::-1][:50]  # by time, not by id
    assert "the newest 50 shown" in lines[-1] and "--all" in lines[-1]
    code, out, _ = run(capsys, "runs", "ls", "--limit", "3", "--json")
    assert [r["id"] for r in json.loads(out)] == ids[::-1][:3]
    code, out, _ = run(capsys, "runs", "ls", "--all", "--json")
    assert [r["id"] for r in json.loads(out)] == ids[::-1]
    code, out, _ = run(capsys, "runs", "ls", "--all")
    assert "newest" not in out and len(out.splitlines()) == 54


@pytest.mark.parametrize("limit", ["0", "-2"])
def test_runs_ls_refuses_a_limit_under_1(capsys, limit):
    tiny()
    code, out, err = run(capsys, "runs", "ls", "--limit", limit)
    assert one_line_error(code, err) and out == ""
    assert "--all" in err


def test_runs_ls_filters_by_flow_state_and_since(capsys):
    ok = tiny(return_state=True).run_id
    bad = breaks(return_state=True).run_id
    for state in ("failed", "FAILED", "Failed"):
        code, out, _ = run(capsys, "runs", "ls", "--state", state, "--json")
        assert [r["id"] for r in json.loads(out)] == [bad], state
    code, out, _ = run(capsys, "runs", "ls", "--state", "completed", "--json")
    assert [r["id"] for r in json.loads(out)] == [ok]
    code, out, _ = run(capsys, "runs", "ls", "--flow", "breaks", "--json")
    assert [r["id"] for r in json.loads(out)] == [bad]
    code, out, _ = run(capsys, "runs", "ls", "--since", "1h", "--json")
    assert {r["id"] for r in json.loads(out)} == {ok, bad}
    tomorrow = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
    code, out, _ = run(capsys, "runs", "ls", "--since", tomorrow)
    assert code == 0 and f"no flow runs since {tomorrow} recorded yet" in out
    an_hour_ago = (datetime.datetime.now() - datetime.timedelta(hours=1)).isoformat(timespec="seconds")
    code, out, _ = run(capsys, "runs", "ls", "--since", an_hour_ago, "--state", "failed", "--json")
    assert [r["id"] for r in json.loads(out)] == [bad]
    code, _out, err = run(capsys, "runs", "ls", "--since", "yesterday-ish")
    assert one_line_error(code, err) and "2d" in err


def test_runs_ls_lists_top_level_runs_unless_asked_for_subflows(capsys):
    state = parent(return_state=True)
    (sub,) = get_client().read_subflow_runs(state.run_id)
    code, out, _ = run(capsys, "runs", "ls", "--json")
    assert [r["id"] for r in json.loads(out)] == [state.run_id]
    code, out, _ = run(capsys, "runs", "ls", "--subflows", "--json")
    assert code == 0
    docs = {r["id"]: r for r in json.loads(out)}
    assert docs[sub.id]["subflow"] is True and docs[sub.id]["parent_flow_run_id"] == state.run_id
    assert docs[state.run_id]["subflow"] is False
    _code, out, _ = run(capsys, "runs", "ls", "--subflows")
    line = next(x for x in out.splitlines() if x.startswith(sub.id))
    assert f"subflow of {state.run_id}" in line


def test_runs_ls_json_into_a_closed_pipe_ends_quietly(conveyor_home):
    for i in range(60):
        tiny(i)
    get_store().flush()
    proc = subprocess.run(
        f"{sys.executable} -m conveyor.cli runs ls --all --json | head -1",
        shell=True, capture_output=True, text=True, check=False, env=os.environ.copy(),
    )
    assert proc.stdout.strip() == "["
    assert proc.stderr == ""  # no BrokenPipeError traceback, no error line


# -- id prefixes --------------------------------------------------------------------------


def _fake_flow_runs(*ids):
    store = get_store()
    state = ("COMPLETED", "Completed", None, 1.0, None)
    for run_id in ids:
        store.writer.create_flow_run(run_id, "fake", None, None, state, 1.0, 1)
    store.flush()


def test_unique_prefixes_are_accepted_everywhere(capsys):
    state = tiny.with_options(persist_result=True)(5, return_state=True)
    prefix = state.run_id[:8]
    code, out, _ = run(capsys, "runs", "show", prefix)
    assert code == 0 and f"flow run {state.run_id}" in out
    code, out, _ = run(capsys, "results", "get", prefix)
    assert code == 0 and out.strip() == "5"
    code, out, _ = run(capsys, "results", "verify", prefix)
    assert code == 0 and f"of run {state.run_id}" in out
    code, out, _ = run(capsys, "results", "show", prefix)
    assert code == 0 and f"flow run {state.run_id}" in out
    code, out, _ = run(capsys, "results", "ls", "--run", prefix, "--json")
    assert [r["run_id"] for r in json.loads(out)] == [state.run_id]


@flow(persist_result=True)
def flaky(fail: bool = True):
    if fail:
        raise RuntimeError("first time")
    return "ok"


def test_resume_takes_a_prefix(capsys):
    failed = flaky(return_state=True)
    code, out, _ = run(capsys, "runs", "resume", failed.run_id[:10], "--param", "fail=false")
    assert code == 0 and f"resumes {failed.run_id}" in out


def test_an_ambiguous_prefix_lists_its_matches_on_one_line(capsys):
    ids = [f"abcd{i:04d}-0000-4000-8000-000000000000" for i in range(12)]
    _fake_flow_runs(*ids)
    for argv in (["runs", "show", "abcd"], ["results", "get", "abcd00"],
                 ["results", "verify", "abcd"], ["results", "show", "abcd"],
                 ["runs", "resume", "abcd"]):
        code, out, err = run(capsys, *argv)
        assert one_line_error(code, err), argv
        assert "ambiguous" in err and ids[0] in err and ids[9] in err and ids[10] not in err
        assert err.rstrip().endswith("give more characters")
    code, out, err = run(capsys, "runs", "show", "abcd0011")
    assert code == 0 and ids[11] in out
    code, out, err = run(capsys, "runs", "show", ids[3])  # a full id is never ambiguous
    assert code == 0 and ids[3] in out


@pytest.mark.parametrize("argv", [["runs", "show", "ffff"], ["results", "get", "ffff"],
                                  ["results", "show", "ffff"], ["results", "verify", "ffff"],
                                  ["runs", "resume", "ffff"], ["results", "ls", "--run", "ffff"]])
def test_an_unknown_prefix_is_a_one_line_error(capsys, argv):
    _fake_flow_runs("abcd0000-0000-4000-8000-000000000000")
    code, _out, err = run(capsys, *argv)
    assert one_line_error(code, err) and "'ffff'" in err


# -- runs show: task runs grouped -----------------------------------------------------------


def test_runs_show_groups_2000_task_runs_by_task(capsys):
    @flow(name="big-map")
    def big():
        futures = square.map(range(2000))
        return sum(f.result() for f in futures if f.state.is_completed())

    state = big(return_state=True)
    code, out, _ = run(capsys, "runs", "show", state.run_id)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) < 30, out
    assert "task runs (2000) by task" in out
    summary = next(x for x in lines if x.strip().startswith("square"))
    assert summary.split()[:2] == ["square", "2000"] and "Completed 1999" in summary
    assert "Failed 1" in summary and "not completed (1):" in out and "unlucky 13" in out
    code, out, _ = run(capsys, "runs", "show", state.run_id, "--all")
    assert code == 0 and len(out.splitlines()) > 2000
    code, out, _ = run(capsys, "runs", "show", state.run_id, "--json")
    assert len(json.loads(out)["task_runs"]) == 2000


def test_runs_show_lists_each_of_20_task_runs(capsys):
    @flow(name="small-map")
    def small():
        return [f.result() for f in square.map(range(20))]

    state = small(return_state=True)
    code, out, _ = run(capsys, "runs", "show", state.run_id)
    assert code == 0 and "task runs (20):" in out and "by task" not in out
    assert sum(1 for x in out.splitlines() if "square" in x) == 20


# -- runs show --parameters -----------------------------------------------------------------


def test_runs_show_parameters_loads_the_kept_parameters(capsys):
    @flow(persist_result=True)
    def params(day: str, n: int = 3, tags: frozenset = frozenset()):
        return n

    @flow(persist_result=True)
    def plain(day: str, n: int = 3):
        return n

    state = params("2024-01-31", tags=frozenset({"a"}), return_state=True)
    code, out, _ = run(capsys, "runs", "show", state.run_id[:8], "--parameters")
    assert code == 0
    assert "day = '2024-01-31'" in out and "n = 3" in out and "tags = frozenset({'a'})" in out
    code, _out, err = run(capsys, "runs", "show", state.run_id, "--parameters", "--json")
    assert one_line_error(code, err) and "not JSON" in err and "repr" in err
    other = plain("2024-02-01", n=4, return_state=True)
    code, out, _ = run(capsys, "runs", "show", other.run_id, "--parameters", "--json")
    assert code == 0 and json.loads(out) == {"day": "2024-02-01", "n": 4}
    unkept = tiny.with_options(persist_result=False)(return_state=True)
    code, _out, err = run(capsys, "runs", "show", unkept.run_id, "--parameters")
    assert one_line_error(code, err) and "did not keep its parameters" in err


def test_runs_show_parameters_of_a_task_run_is_refused(capsys):
    @flow
    def one():
        return square(2, return_state=True).run_id

    task_run = one()
    code, _out, err = run(capsys, "runs", "show", task_run, "--parameters")
    assert one_line_error(code, err) and "task run" in err


# -- results ls / show ----------------------------------------------------------------------


@flow(name="report", persist_result=True, result_serializer="json")
def report(n: int = 2):
    return [square(i) for i in range(n)]


def test_results_ls_lists_uris_sizes_serializers_tasks_and_runs(capsys, conveyor_home):
    first = report(return_state=True).run_id
    tiny()
    second = report(3, return_state=True).run_id
    code, out, _ = run(capsys, "results", "ls", "--json")
    docs = json.loads(out)
    assert code == 0 and len(docs) == 2 + 1 + 3 + 1
    assert docs[0]["run_id"] == second and docs[0]["kind"] == "flow"  # newest first
    for doc in docs:
        assert doc["location"].startswith("file:///") and doc["location"].endswith(doc["key"])
        path = Path.from_uri(doc["location"]) if hasattr(Path, "from_uri") else None
        assert path is None or path.is_file()
        assert doc["size"] > 0 and doc["serializer"] and doc["created"]
    tasks = [d for d in docs if d["kind"] == "task"]
    assert {d["task"] for d in tasks} == {"square"} and {d["flow"] for d in tasks} == {"report"}
    code, out, _ = run(capsys, "results", "ls", "--run", first, "--json")
    assert {d["flow_run_id"] for d in json.loads(out)} == {first} and len(json.loads(out)) == 3
    code, out, _ = run(capsys, "results", "ls", "--flow", "nothing-here")
    assert code == 0 and "no stored results match" in out
    code, out, _ = run(capsys, "results", "ls", "--since", "1d")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["CREATED", "RUN", "TASK", "SERIALIZER", "SIZE", "LOCATION"]
    assert "file:///" in lines[1] and "(flow report)" in lines[1] and "json" in lines[1]
    assert lines[-1].startswith("7 stored result(s), ")
    task_id = tasks[0]["run_id"]
    code, out, _ = run(capsys, "results", "ls", "--run", task_id, "--json")
    assert [d["run_id"] for d in json.loads(out)] == [task_id]


def test_results_show_prints_the_reference_without_reading_the_value(capsys, conveyor_home):
    state = report(return_state=True)
    ref = state.data
    storage = ref.resolve_storage()
    (Path(storage.basepath) / ref.key).unlink()  # the value is never read
    code, out, _ = run(capsys, "results", "show", state.run_id)
    assert code == 0
    assert f"key         {ref.key}" in out and ref.checksum in out and "file:///" in out
    assert "json" in out and f"({ref.size} bytes)" in out
    code, out, _ = run(capsys, "results", "show", state.run_id, "--json")
    doc = json.loads(out)
    assert doc["reference"]["checksum"] == ref.checksum and doc["location"].startswith("file:///")
    assert doc["kind"] == "flow" and doc["flow"] == "report"
    unpersisted = tiny(return_state=True)
    code, out, _ = run(capsys, "results", "show", unpersisted.run_id)
    assert code == 0 and "result " in out


# -- results verify: superseded keys ----------------------------------------------------------


@task(persist_result=True, result_storage_key="daily/summary.json", result_serializer="json")
def summary(n):
    return {"n": n}


@flow(name="nightly")
def nightly(n: int):
    return summary(n, return_state=True).run_id


def _file(task_run_id):
    ref = get_client().read_task_run(task_run_id).state.data
    return Path(ref.resolve_storage().basepath) / ref.key


def test_verify_tells_a_superseded_key_from_damage(capsys):
    old = nightly(1)
    new = nightly(2)
    code, out, _ = run(capsys, "results", "verify")
    assert code == 0, out
    assert f"SUPERSEDED task run {old}" in out and new in out and "not damaged" in out
    assert "DAMAGED" not in out and "0 missing or damaged" in out and "1 superseded" in out
    code, out, _ = run(capsys, "results", "verify", old)  # one run: still told apart
    assert code == 0 and "SUPERSEDED" in out
    # Damage at the key: the latest reference is damaged, the old one still only stale.
    path = _file(new)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    code, out, _ = run(capsys, "results", "verify")
    assert code == 1
    assert f"DAMAGED  task run {new}" in out and f"SUPERSEDED task run {old}" in out
    assert "1 missing or damaged" in out
    path.unlink()
    code, out, _ = run(capsys, "results", "verify")
    assert code == 1 and f"MISSING  task run {new}" in out and f"SUPERSEDED task run {old}" in out


def test_verify_of_a_damaged_unique_key_is_still_damage(capsys):
    only = nightly(1)
    path = _file(only)
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    code, out, _ = run(capsys, "results", "verify")
    assert code == 1 and "DAMAGED" in out and "SUPERSEDED" not in out


def test_the_new_commands_have_help():
    for argv in (["results", "ls"], ["results", "show"]):
        proc = subprocess.run([sys.executable, "-m", "conveyor.cli", *argv, "--help"],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and "usage: conveyor" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "conveyor.cli", "runs", "ls", "--help"],
                          capture_output=True, text=True, check=False)
    for option in ("--state", "--since", "--subflows", "--limit", "--all"):
        assert option in proc.stdout, option


def test_local_file_system_uri(tmp_path):
    from conveyor.filesystems import LocalFileSystem, StorageBlock

    block = LocalFileSystem(basepath=str(tmp_path))
    assert block.uri("a b/c.json") == (tmp_path / "a b" / "c.json").as_uri()
    assert StorageBlock.uri(block, "k") is None  # the base class's default: no URI
