"""``conveyor results gc`` and ``conveyor runs rm``: clean up, never lose what is still
needed (issue: results you can open, find and clean up)."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conveyor import flow, get_client, task
from conveyor.cli import main as cli_main
from conveyor.exceptions import MissingResult, ResultDeletedError
from conveyor.blocks import record_block
from conveyor.filesystems import LocalFileSystem, StorageBlock

@task(persist_result=True)
def square(i: int) -> list[int]:
    return [i * i] * 100


@task(persist_result=True, cache_key_fn=lambda _ctx, args: f"cached-{args['i']}")
def cached(i: int) -> list[int]:
    return [i] * 50


@flow(persist_result=True)
def nightly(n: int = 3) -> list[list[int]]:
    return [square(i) for i in range(n)]


@flow(persist_result=True)
def with_cache(i: int) -> list[int]:
    return cached(i)


@task(persist_result=True)
def flaky(fail: bool) -> int:
    if fail:
        raise RuntimeError("try again")
    return 2


@flow(persist_result=True)
def resumable(fail: bool) -> list[int]:
    return [square(1), flaky(fail)]


def _gc(capsys, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = cli_main(["results", "gc", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and ".conveyor-tmp" not in p.parts}


def _path(location: str) -> Path:
    assert location.startswith("file://")
    return Path(location[len("file://"):])


def test_dry_run_deletes_nothing_and_yes_frees_exactly_the_listed_objects(conveyor_home, capsys):
    results = Path(os.environ["CONVEYOR_LOCAL_STORAGE_PATH"])
    old = [nightly(3, return_state=True).run_id for _ in range(2)]
    newest = nightly(3, return_state=True)
    before = _files(results)
    db_before = (conveyor_home / "conveyor.db").stat().st_size
    code, plan = _gc(capsys, "--keep-last", "1")
    assert code == 0 and plan["dry_run"] and sorted(plan["runs"]) == sorted(old)
    assert _files(results) == before and (conveyor_home / "conveyor.db").stat().st_size == db_before
    listed = {_path(r["location"]) for r in plan["results"]}
    assert len(listed) == 2 * (3 + 2)  # per run: 3 task results, the flow's result, its parameters
    assert plan["bytes"] == sum(p.stat().st_size for p in listed)
    code, done = _gc(capsys, "--keep-last", "1", "--yes")
    assert code == 0 and done["deleted"] == len(listed) and done["deleted_bytes"] == plan["bytes"]
    assert _files(results) == before - listed
    assert newest.result() == [[i * i] * 100 for i in range(3)]  # the kept run reads back
    assert not any((results / "nightly" / run).exists() for run in old)  # empty folders gone too
    # A reference to a deleted result says so, as a MissingResult
    gone = get_client().read_flow_run(old[0]).state
    with pytest.raises(ResultDeletedError, match=r"deleted by results gc on \d{4}-\d\d-\d\d") as info:
        gone.result()
    assert isinstance(info.value, MissingResult)
    capsys.readouterr()
    assert cli_main(["results", "get", old[0]]) == 1
    assert "deleted by results gc" in capsys.readouterr().err
    assert cli_main(["results", "verify"]) == 0  # deleted on purpose: not a problem
    assert "8 deleted on purpose" in capsys.readouterr().out  # parameters are not verified
    # Running it again finds nothing more to delete
    code, again = _gc(capsys, "--keep-last", "1")
    assert again["results"] == [] and again["kept"] == {"deleted": 10}


def test_older_than_and_flow_select_the_runs(conveyor_home, capsys):
    nightly(1)
    other = with_cache(1, return_state=True)
    code, plan = _gc(capsys, "--older-than", "1h")
    assert plan["runs"] == []  # every run is newer than an hour
    future = (datetime.datetime.now() + datetime.timedelta(days=1)).date().isoformat()
    code, plan = _gc(capsys, "--older-than", future, "--flow", "with_cache", "--include-cached")
    assert plan["runs"] == [other.run_id]
    capsys.readouterr()
    assert cli_main(["results", "gc", "--older-than", "soon"]) == 1
    assert "--older-than 'soon' is neither an age" in capsys.readouterr().err
    assert cli_main(["results", "gc", "--keep-last", "-1"]) == 1
    assert "--keep-last -1" in capsys.readouterr().err


def test_a_result_an_unexpired_cache_entry_serves_survives(conveyor_home, capsys):
    first = with_cache(7, return_state=True)
    second = with_cache(7, return_state=True)  # a cache hit: names the first run's object
    assert get_client().read_task_runs(second.run_id)[0].state.name == "Cached"
    code, plan = _gc(capsys, "--keep-last", "0", "--yes")
    assert plan["kept"] == {"cached": 1}  # named by both runs, served by the cache entry
    assert with_cache(7) == [7] * 50  # still a cache hit, its object still there
    assert get_client().read_task_runs(first.run_id)[0].state.result() == [7] * 50
    code, plan = _gc(capsys, "--keep-last", "0", "--include-cached", "--yes")
    assert code == 0
    cached_ref = get_client().read_task_runs(first.run_id)[0].state
    with pytest.raises(ResultDeletedError):
        cached_ref.result()


def test_a_resumable_runs_results_survive_unless_asked(conveyor_home, capsys):
    failed = resumable(True, return_state=True)
    assert failed.is_failed()
    code, plan = _gc(capsys, "--keep-last", "0", "--yes")
    assert plan["runs"] == [] and plan["resumable_runs"] == [failed.run_id]
    capsys.readouterr()
    cli_main(["results", "gc", "--keep-last", "0"])
    assert "can still be resumed (--include-resumable" in capsys.readouterr().out
    resumed = resumable.resume(failed.run_id, return_state=True, fail=False)
    assert resumed.is_completed()  # reused square(1) from the failed run
    assert [t.state.name for t in get_client().read_task_runs(resumed.run_id)] == ["Reused", "Completed"]
    code, plan = _gc(capsys, "--keep-last", "1", "--yes")
    # the failed run was resumed to completion: cleaned up, but the object the resumed run
    # reused stays (a run that stays names it)
    assert plan["runs"] == [failed.run_id] and plan["kept"].get("shared") == 1
    assert resumed.result() == [[1] * 100, 2]


def test_resumable_runs_go_with_include_resumable(conveyor_home, capsys):
    failed = resumable(True, return_state=True)
    code, plan = _gc(capsys, "--keep-last", "0", "--include-resumable", "--yes")
    assert plan["runs"] == [failed.run_id] and plan["deleted"] >= 1


KILLER = textwrap.dedent("""
    import os, signal, sys
    from conveyor import flow, task
    from conveyor_storage_local.local import LocalFileSystem

    class KilledAfterWriting(LocalFileSystem):
        # block type 'local' like its parent: rebuilt from its document as a LocalFileSystem
        def open_write(self, path):
            return _kill_after(super().open_write(path))

    class _kill_after:
        def __init__(self, inner):
            self.inner = inner
        def __enter__(self):
            return self.inner.__enter__()
        def __exit__(self, *exc):
            out = self.inner.__exit__(*exc)
            os.kill(os.getpid(), signal.SIGKILL)  # written; its reference never recorded
            return out

    @task(persist_result=True, result_storage=KilledAfterWriting(basepath=sys.argv[1]))
    def doomed():
        return list(range(1000))

    @flow
    def killed():
        return doomed()

    killed()
""")


def test_an_orphan_from_a_sigkilled_write_is_found_and_removed(conveyor_home, tmp_path, capsys):
    folder = tmp_path / "orphans"
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    proc = subprocess.run([sys.executable, str(script), str(folder)], env=os.environ.copy(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    written = _files(folder)
    assert len(written) == 1  # the object is there; nothing records it
    code, plan = _gc(capsys)  # no criteria: only orphaned writes
    assert plan["results"] == [] and len(plan["orphans"]) == 1
    orphan = plan["orphans"][0]
    assert orphan["orphan"] and orphan["run_kind"] == "task" and orphan["flow"] == "killed"
    assert orphan["size"] == next(iter(written)).stat().st_size
    assert _files(folder) == written  # a dry run
    code, done = _gc(capsys, "--yes")
    assert code == 0 and done["deleted"] == 1 and _files(folder) == set()
    assert get_client().store.read_write_intents() == []
    code, again = _gc(capsys)
    assert again["orphans"] == []


def test_a_write_still_going_on_is_not_an_orphan(conveyor_home, capsys):
    store = get_client().store
    document = record_block(LocalFileSystem(basepath=os.environ["CONVEYOR_LOCAL_STORAGE_PATH"]))

    @task
    def probe() -> int:
        store.record_write_intent(document, "busy/key", get_client().store.read_flow_runs()[0]["id"])
        code, plan = _gc(capsys)
        return len(plan["orphans"])

    @flow
    def going() -> int:
        return probe()

    assert going() == 0  # its run is still Running: the write may be going on


def test_gc_on_s3_deletes_the_objects(conveyor_home, seaweedfs_server, seaweedfs_bucket, capsys):
    block = seaweedfs_server.block(f"{seaweedfs_bucket}/gc")
    block.save("gc-test", overwrite=True)

    @flow(persist_result=True, result_storage="s3/gc-test")
    def on_s3() -> list[int]:
        return square(4)

    old = on_s3(return_state=True)
    on_s3()
    client = seaweedfs_server.client()
    listed = {o["Key"] for o in client.list_objects_v2(Bucket=seaweedfs_bucket).get("Contents", [])}
    code, done = _gc(capsys, "--keep-last", "1", "--yes")
    gone = {r["location"].removeprefix(f"s3://{seaweedfs_bucket}/") for r in done["results"]}
    assert len(gone) == 2 and done["deleted"] == 2  # the task result, the flow result
    after = {o["Key"] for o in client.list_objects_v2(Bucket=seaweedfs_bucket).get("Contents", [])}
    assert after == listed - gone and all(k.startswith(f"gc/on_s3/{old.run_id}/") for k in gone)
    with pytest.raises(ResultDeletedError):
        get_client().read_flow_run(old.run_id).state.result()
    assert sorted(block.list_paths(f"on_s3/{old.run_id}/")) == []


def test_a_block_without_delete_path_is_explained(conveyor_home, capsys, monkeypatch):
    nightly(1)
    nightly(1)
    # as a block type written before delete_path existed
    monkeypatch.setattr(LocalFileSystem, "delete_path", StorageBlock.delete_path)
    capsys.readouterr()
    assert cli_main(["results", "gc", "--keep-last", "1", "--yes"]) == 1
    out = capsys.readouterr().out
    assert "its block type offers no delete_path; delete them by hand" in out


# -- runs rm ---------------------------------------------------------------------------


def test_runs_rm_removes_runs_and_with_results_their_objects(conveyor_home, capsys):
    results = Path(os.environ["CONVEYOR_LOCAL_STORAGE_PATH"])
    first = nightly(2, return_state=True).run_id
    second = nightly(2, return_state=True).run_id
    before = _files(results)
    capsys.readouterr()
    assert cli_main(["runs", "rm", first[:8]]) == 0
    out = capsys.readouterr().out
    assert "would remove 1 flow run(s)" in out and "their results stay in storage (--results" in out
    assert get_client().read_flow_run(first)  # a dry run
    assert cli_main(["runs", "rm", first[:8], "--yes"]) == 0
    out = capsys.readouterr().out
    assert "removed 3 run record(s)" in out and "results stay in storage" not in out
    assert _files(results) == before  # results stay without --results
    assert [r.id for r in get_client().read_flow_runs()] == [second]
    assert cli_main(["runs", "rm", second, "--results", "--yes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["deleted"] == 4 and len(_files(results)) == len(before) - 4
    assert get_client().read_flow_runs() == []


def test_runs_rm_refuses_task_runs_subflows_and_running_runs(conveyor_home, capsys):
    @flow
    def child() -> int:
        return 1

    @flow
    def parent() -> int:
        return child() + square(1)[0]

    state = parent(return_state=True)
    task_id = get_client().read_task_runs(state.run_id)[-1].id
    sub = get_client().read_subflow_runs(state.run_id)[0].id
    capsys.readouterr()
    assert cli_main(["runs", "rm", task_id]) == 1
    assert f"give its flow run {state.run_id}" in capsys.readouterr().err
    assert cli_main(["runs", "rm", sub]) == 1
    assert f"is a subflow run of {state.run_id}" in capsys.readouterr().err
    assert cli_main(["runs", "rm", state.run_id, "--yes"]) == 0
    assert get_client().read_flow_runs() == []  # the subflow went with it
