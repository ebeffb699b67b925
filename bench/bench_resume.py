"""Reuse benchmark: a 50-task flow whose last task fails once.

Prints the time of a clean run, of the flow's own retry (attempt 2 reuses 49 persisted
results), and of `resume` of the failed run from a new process (49 reused, the failed
task runs again), against the clean run. Target: the resumed run costs the failed task
plus under 5% of the rest. No assertion on time.

Run: ``.venv/bin/python bench/bench_resume.py`` (a temporary CONVEYOR_HOME is used).
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="conveyor-bench-resume-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
os.environ["CONVEYOR_HOME"] = str(WORK / "home")
os.environ["CONVEYOR_LOCAL_STORAGE_PATH"] = str(WORK / "results")
os.environ.setdefault("CONVEYOR_LOGGING_LEVEL", "WARNING")

N_TASKS = 50
WORK_SECONDS = 0.02  # each task's own work
REPEATS = 3

FLOW = textwrap.dedent(
    f"""
    import os, time
    from conveyor import flow, task

    def busy(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    @task(persist_result=True)
    def step(i):
        busy({WORK_SECONDS})
        if i == {N_TASKS - 1} and os.path.exists(os.environ["FAIL_FLAG"]):
            os.remove(os.environ["FAIL_FLAG"])
            raise RuntimeError("the last task fails once")
        return [float(i)] * 1000

    @flow(retries=int(os.environ.get("FLOW_RETRIES", "0")))
    def fifty(n: int = {N_TASKS}):
        return sum(sum(step(i)) for i in range(n))
    """
)

RUN = "import bench_resume_flow as m, sys; print(m.fifty(return_state=True).run_id)"
# imports and plugin loading are a new process's fixed cost, not the resume's: done first
RESUME = (
    "import sys, time; from conveyor import plugins; from conveyor.engine.resume import resume; "
    "plugins.get_plugin_manager(); t = time.perf_counter(); resume(sys.argv[1]); "
    "print(time.perf_counter() - t)"
)
TIMED_RUN = (
    "import time, bench_resume_flow as m; from conveyor import get_client, plugins; "
    "plugins.get_plugin_manager(); t = time.perf_counter(); s = m.fifty(return_state=True); "
    "took = time.perf_counter() - t; states = get_client().read_states(s.run_id); "
    "retry = [x.ts for x in states if x.name == 'Retrying']; "
    "print(took, s.name, states[-1].ts - retry[0] if retry else 0.0)"
)


def python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
        cwd=WORK, env={**os.environ, "PYTHONPATH": str(WORK), **(env or {})},
    )
    return done.stdout.strip()


def main() -> None:
    (WORK / "bench_resume_flow.py").write_text(FLOW)
    flag = WORK / "fail-once"
    env = {"FAIL_FLAG": str(flag)}
    clean, retried, second, resumed = [], [], [], []
    for _ in range(REPEATS):
        clean.append(float(python(TIMED_RUN, env=env).split()[0]))
        flag.write_text("")
        seconds, name, attempt2 = python(TIMED_RUN, env={**env, "FLOW_RETRIES": "1"}).split()
        assert name == "Completed", name
        retried.append(float(seconds))
        second.append(float(attempt2))
        flag.write_text("")
        run_id = python(RUN, env=env)  # fails in its last task (no retries)
        resumed.append(float(python(RESUME, run_id, env=env)))
    clean_s = statistics.median(clean)
    retry_s = statistics.median(retried)
    resume_s = statistics.median(resumed)
    failed_task = clean_s / N_TASKS  # what the failed task costs in a clean run (work + persist)
    rest = clean_s - failed_task
    print(f"conveyor reuse benchmark (python {sys.version.split()[0]}; {N_TASKS} tasks of {WORK_SECONDS * 1000:.0f} ms "
          f"work each, persisted; medians of {REPEATS})")
    print(f"clean run:                        {clean_s * 1000:8.1f} ms")
    print(f"flow retry (attempt 1 + attempt 2): {retry_s * 1000:6.1f} ms "
          f"(attempt 2 reuses {N_TASKS - 1} results)")
    print(f"resumed run (new process, in-call): {resume_s * 1000:6.1f} ms = the failed task "
          f"({failed_task * 1000:.1f} ms) + {(resume_s - failed_task) * 1000:.1f} ms, "
          f"{(resume_s - failed_task) / rest * 100:.1f}% of the rest of a clean run "
          f"({rest * 1000:.0f} ms; target < 5%)")
    second_attempt = statistics.median(second)
    print(f"  the retry's second attempt:       {second_attempt * 1000:6.1f} ms = the failed task + "
          f"{(second_attempt - failed_task) * 1000:.1f} ms ({(second_attempt - failed_task) / rest * 100:.1f}% of the rest)")


if __name__ == "__main__":
    main()
