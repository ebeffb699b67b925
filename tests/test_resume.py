"""Resuming a failed or crashed flow run from another process (``conveyor runs resume``,
``my_flow.resume``, ``conveyor.resume``), reusing what it persisted.

Task bodies count their executions in a file; the crash is a real SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import conveyor
import pytest
from conveyor import flow, get_client, task
from conveyor.cli import main
from conveyor.exceptions import ConfigurationError, UnknownNameError

MARKER = "resume-marker-3f9c1e2a7b"

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from conveyor import flow, task

    def record(name):
        with open(os.environ["CALLS_LOG"], "a") as f:
            f.write(name + "\\n")

    @task(persist_result=True)
    def step(i, tag):
        record(f"step-{i}")
        if i == int(os.environ.get("KILL_AT", "-1")) and not os.path.exists(os.environ["HEALED"]):
            os.kill(os.getpid(), signal.SIGKILL)
        if i == int(os.environ.get("FAIL_AT", "-1")) and not os.path.exists(os.environ["HEALED"]):
            raise RuntimeError(f"step {i} fails until healed")
        return i * i

    @flow(persist_result=True)
    def pipeline(n: int, tag: str):
        return sum(step(i, tag) for i in range(n))

    if __name__ == "__main__":
        print(pipeline(int(sys.argv[1]), sys.argv[2]))
    """
)


@pytest.fixture
def script(tmp_path: Path, conveyor_home: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "pipeline_script.py"
    path.write_text(SCRIPT)
    log = tmp_path / "calls.txt"
    log.write_text("")
    monkeypatch.setenv("CALLS_LOG", str(log))
    monkeypatch.setenv("HEALED", str(tmp_path / "healed"))
    monkeypatch.chdir(tmp_path)
    return path


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.txt").read_text().split()


def _conveyor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True, timeout=120, check=False)


def test_a_run_killed_with_sigkill_is_resumed_by_the_cli(script, tmp_path, monkeypatch):
    monkeypatch.setenv("KILL_AT", "3")
    killed = subprocess.run([sys.executable, str(script), "6", MARKER], capture_output=True, text=True, timeout=120, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert _calls(tmp_path) == ["step-0", "step-1", "step-2", "step-3"]
    (run,) = get_client().read_flow_runs()
    assert run.state.name == "Running"  # its process died before it could say otherwise
    listed = _conveyor("runs", "ls")
    assert listed.returncode == 0, listed.stderr
    assert "Crashed" in listed.stdout  # the process is gone: marked Crashed
    assert get_client().read_flow_run(run.id).state.name == "Crashed"
    # the three persisted results were committed before they were handed on; the task
    # killed in its body had only queued its Running row (committing each at once would
    # cost every task a commit): if the writer thread committed it before the kill, it is
    # marked Crashed now, else it is not recorded at all. Nothing persisted is lost.
    tasks = [t.state.name for t in get_client().read_task_runs(run.id)]
    assert tasks[:3] == ["Completed", "Completed", "Completed"]
    assert tasks[3:] in ([], ["Crashed"])

    (tmp_path / "healed").write_text("")
    resumed = _conveyor("runs", "resume", run.id)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert f"resumes {run.id}: Completed" in resumed.stdout
    assert "3 task result(s) reused" in resumed.stdout
    # only the tasks that had not finished ran again
    assert _calls(tmp_path) == ["step-0", "step-1", "step-2", "step-3", "step-3", "step-4", "step-5"]
    new = get_client().read_flow_runs()[0]
    assert new.resumed_from == run.id
    assert new.state.result() == sum(i * i for i in range(6))  # what a clean run gives
    names = [t.state.name for t in get_client().read_task_runs(new.id)]
    assert names == ["Reused", "Reused", "Reused", "Completed", "Completed", "Completed"]
    shown = _conveyor("runs", "show", new.id)
    assert f"resumes flow run {run.id}" in shown.stdout and "Reused" in shown.stdout
    assert f"resumed by flow run {new.id}" in _conveyor("runs", "show", run.id).stdout
    assert f"resumes {run.id}" in _conveyor("runs", "ls").stdout


def test_fault_injection_sigkill_at_every_step_then_resume(script, tmp_path, monkeypatch):
    """Bounded fault injection: kill the run at each step in turn; each resume completes it."""
    for kill_at in range(4):
        (tmp_path / "calls.txt").write_text("")
        healed = tmp_path / "healed"
        healed.unlink(missing_ok=True)
        monkeypatch.setenv("KILL_AT", str(kill_at))
        done = subprocess.run([sys.executable, str(script), "4", MARKER], capture_output=True, timeout=120, check=False)
        assert done.returncode == -signal.SIGKILL
        run = get_client().read_flow_runs(limit=1)[0]
        healed.write_text("")
        resumed = _conveyor("runs", "resume", run.id)
        assert resumed.returncode == 0, resumed.stderr
        calls = _calls(tmp_path)
        assert calls == [f"step-{i}" for i in range(kill_at + 1)] + [f"step-{i}" for i in range(kill_at, 4)]
        new = get_client().read_flow_runs(limit=1)[0]
        assert new.state.result() == sum(i * i for i in range(4))
        assert get_client().read_flow_run(run.id).state.name == "Crashed"


def test_a_failed_run_is_resumed_from_python(script, tmp_path, monkeypatch):
    monkeypatch.setenv("FAIL_AT", "2")
    failed = subprocess.run([sys.executable, str(script), "4", MARKER], capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode != 0 and "fails until healed" in failed.stderr
    run = get_client().read_flow_runs()[0]
    assert run.state.name == "Failed"
    (tmp_path / "healed").write_text("")
    value = conveyor.resume(run.id)  # the flow is imported from the script it was defined in
    assert value == sum(i * i for i in range(4))
    assert _calls(tmp_path) == ["step-0", "step-1", "step-2", "step-2", "step-3"]
    new = get_client().read_flow_runs()[0]
    assert new.resumed_from == run.id and new.state.name == "Completed"


def test_resume_reuses_the_whole_chain_of_resumed_runs(tmp_path, conveyor_home):
    log = tmp_path / "calls.txt"
    failing = {"b": True, "c": True}

    @task(persist_result=True)
    def work(name):
        with log.open("a") as f:
            f.write(name + "\n")
        if failing.get(name):
            raise RuntimeError(f"{name} fails")
        return name.upper()

    @flow
    def chain():
        return [work(n) for n in "abc"]

    first = chain(return_state=True)
    assert first.is_failed()
    failing["b"] = False
    second = chain.resume(first.run_id, return_state=True)
    assert second.is_failed()
    failing["c"] = False
    third = chain.resume(second.run_id, return_state=True)
    assert third.result() == ["A", "B", "C"]
    assert log.read_text().split() == ["a", "b", "b", "c", "c"]
    assert get_client().read_flow_run(third.run_id).resumed_from == second.run_id


def test_parameters_are_kept_by_reference_never_in_the_database(script, tmp_path, monkeypatch, conveyor_home):
    monkeypatch.setenv("FAIL_AT", "1")
    subprocess.run([sys.executable, str(script), "3", MARKER], capture_output=True, timeout=120, check=False)
    run = get_client().read_flow_runs()[0]
    assert run.parameters_kept
    get_client().read_flow_runs()  # flushed
    files = [p for p in conveyor_home.iterdir() if p.name.startswith("conveyor.db")]
    assert files
    for path in files:
        assert MARKER.encode() not in path.read_bytes(), path.name
    (tmp_path / "healed").write_text("")
    assert conveyor.resume(run.id) == 0 + 1 + 4


def test_parameters_given_on_the_command_line_replace_the_kept_ones(script, tmp_path, monkeypatch):
    monkeypatch.setenv("FAIL_AT", "1")
    subprocess.run([sys.executable, str(script), "2", MARKER], capture_output=True, timeout=120, check=False)
    run = get_client().read_flow_runs()[0]
    (tmp_path / "healed").write_text("")
    resumed = _conveyor("runs", "resume", run.id, "--param", "n=4")
    assert resumed.returncode == 0, resumed.stderr
    assert get_client().read_flow_runs()[0].state.result() == 0 + 1 + 4 + 9
    bad = _conveyor("runs", "resume", run.id, "--param", "oops")
    assert bad.returncode == 1 and "is not name=value" in bad.stderr


# -- when a run cannot be resumed: one line saying why and what to do ---------------------


def test_unresumable_runs_say_why(tmp_path, conveyor_home, capsys):
    @flow(persist_result=False)
    def secretive(x):
        raise RuntimeError("fails")

    state = secretive(1, return_state=True)
    with pytest.raises(ConfigurationError, match=r"were not kept .*--param x=VALUE.*secretive.resume|were not kept .*--param x=VALUE"):
        secretive.resume(state.run_id)

    @flow
    def fine():
        return 1

    done = fine(return_state=True)
    with pytest.raises(ConfigurationError, match="completed: there is nothing to resume"):
        fine.resume(done.run_id)
    with pytest.raises(UnknownNameError, match="no flow run 'nope'"):
        conveyor.resume("nope")

    @flow(name="reshaped")
    def before(a):
        raise RuntimeError("fails")

    old = before(1, return_state=True)

    @flow(name="reshaped")
    def after(a, b):
        return a + b

    with pytest.raises(ConfigurationError, match=r"no longer takes the parameters of run .*missing a required argument: 'b'"):
        after.resume(old.run_id)
    assert after.resume(old.run_id, b=2) == 3
    with pytest.raises(ConfigurationError, match="is a run of flow 'reshaped', not of 'fine'"):
        fine.resume(old.run_id)
    assert main(["runs", "resume", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no flow run" in err and "'nope'" in err and len(err.strip().splitlines()) == 1


def test_a_flow_that_cannot_be_imported_any_more(tmp_path, conveyor_home, monkeypatch):
    module = tmp_path / "gone_module.py"
    module.write_text(textwrap.dedent(
        """
        from conveyor import flow

        @flow
        def vanishing():
            raise RuntimeError("fails")
        """
    ))
    monkeypatch.syspath_prepend(str(tmp_path))
    import gone_module

    state = gone_module.vanishing(return_state=True)
    assert get_client().read_flow_run(state.run_id).flow_ref == "gone_module:vanishing"
    module.unlink()
    sys.modules.pop("gone_module")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "conveyor.cli", "runs", "resume", state.run_id],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 1
    assert "cannot be imported: ModuleNotFoundError" in done.stderr
    assert "my_flow.resume(run_id)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
