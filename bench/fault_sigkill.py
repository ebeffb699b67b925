"""Fault injection: kill flow runs with SIGKILL at random moments, then count what is left.

Each trial starts a flow in a new process that persists 1 MiB values task after task,
kills it with SIGKILL after a random delay (between a fifth of a whole run's time, measured
first, and nearly its end), and goes on. Afterwards one
``conveyor runs ls`` (which marks runs whose process is gone Crashed) and one small run
writing into the same folder (which removes temporary files of killed writers) stand for
"the next run". Printed figures:

- references invalid: recorded references whose value is missing or damaged;
- runs left Running or Pending after recovery;
- temporary files left after the next run;
- result files without a reference (written, then killed before the reference was
  committed), and how many of them no write intent names: each write is recorded as an
  intent first (:mod:`conveyor.metadata.intents`), so ``results gc`` can find them.

Run: ``.venv/bin/python bench/fault_sigkill.py [TRIALS]`` (default 100). The test suite
runs 20 trials through :func:`run_trials` (tests/test_faults_sigkill.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

FLOW = textwrap.dedent(
    """
    from conveyor import flow, task

    @task(persist_result=True)
    def chunk(i):
        return bytes([i % 256]) * (1 << 20)

    @flow(persist_result=True)
    def writer(n: int = 24):
        return sum(len(chunk(i)) for i in range(n))

    if __name__ == "__main__":
        writer()
    """
)

CHECK = textwrap.dedent(
    """
    import json
    from conveyor import get_client
    from conveyor.results import ResultReference, result_from_json, verify

    client = get_client()
    invalid = referenced = 0
    keys = set()
    for record in client.store.read_result_records():
        result = result_from_json(record["state_data"])
        if isinstance(result, ResultReference):
            referenced += 1
            keys.add(result.key)
            if not verify(result):
                invalid += 1
    for run in client.read_flow_runs():  # a run's parameters are kept by reference too
        kept = client.store.read_flow_run(run.id)["parameters"]
        if kept and kept.startswith('{"type":"reference"'):
            keys.add(result_from_json(kept).key)
    intents = sorted(r["key"] for r in client.store.read_write_intents())
    stuck = sum(1 for r in client.read_flow_runs() if r.state.name in ("Running", "Pending"))
    print(json.dumps({"invalid": invalid, "referenced": referenced, "stuck": stuck,
                      "keys": sorted(keys), "intents": intents}))
    """
)


def _env(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CONVEYOR_HOME": str(work / "home"),
        "CONVEYOR_LOCAL_STORAGE_PATH": str(work / "results"),
        "CONVEYOR_LOGGING_LEVEL": "ERROR",
    }


def run_trials(trials: int, work: Path, seed: int = 7) -> dict[str, int]:
    """Run ``trials`` SIGKILL trials in ``work``; return the figures (see the module docstring)."""
    rng = random.Random(seed)
    script = work / "fault_flow.py"
    script.write_text(FLOW)
    env = _env(work)
    killed = 0
    # One whole run first: the kills land between a fifth of its time and nearly its end,
    # on a fast machine as on a slow one (start-up is part of it, the writes most of it).
    began = time.monotonic()
    subprocess.run([sys.executable, str(script)], env=env, cwd=work, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    whole = time.monotonic() - began
    for _ in range(trials):
        proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=work,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 0.95) * whole)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
    conveyor = [sys.executable, "-m", "conveyor.cli"]
    subprocess.run([*conveyor, "runs", "ls", "--limit", "1"], env=env, cwd=work,
                   capture_output=True, check=True)  # marks runs whose process is gone
    # the next run: writes into the same folder, removing killed writers' temporaries
    subprocess.run([sys.executable, "-c", "import fault_flow; fault_flow.writer(1)"],
                   env={**env, "PYTHONPATH": str(work)}, cwd=work, capture_output=True, check=True)
    checked = json.loads(subprocess.run([sys.executable, "-c", CHECK], env=env, cwd=work,
                                        capture_output=True, text=True, check=True).stdout)
    results = work / "results"
    files = [p for p in results.rglob("*") if p.is_file()]
    temporaries = [p for p in files if p.name.endswith(".tmp")]
    stored = {p.relative_to(results).as_posix() for p in files if not p.name.endswith(".tmp")}
    return {
        "trials": trials,
        "killed": killed,
        "references": checked["referenced"],
        "references invalid": checked["invalid"],
        "runs stuck after recovery": checked["stuck"],
        "temporary files left after the next run": len(temporaries),
        "result files without a reference": len(stored - set(checked["keys"])),
        "  of which no write intent names (unfindable)": len(
            stored - set(checked["keys"]) - set(checked["intents"])
        ),
    }


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory(prefix="conveyor-fault-") as folder:
        started = time.perf_counter()
        figures = run_trials(trials, Path(folder))
        took = time.perf_counter() - started
    print(f"conveyor SIGKILL fault injection ({trials} trials, {took:.0f} s)")
    for name, value in figures.items():
        print(f"  {name:42} {value}")


if __name__ == "__main__":
    main()
