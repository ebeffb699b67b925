"""`make demo`'s example pipeline runs and tells what became of each result."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_pipeline_explains_every_result(tmp_path):
    env = dict(os.environ)
    env["CONVEYOR_HOME"] = str(tmp_path / "home")
    env["CONVEYOR_LOCAL_STORAGE_PATH"] = str(tmp_path / "results")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "pipeline.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("-> Completed") == 2
    assert "Completed after 2 attempts" in out          # the retried task
    assert "Cached" in out                              # the cached task, second run
    assert "in memory only" in out                      # a plain task
    assert "literal False in the database" in out       # a literal
    assert "[json, " in out and "[pickle, " in out      # both serializers
    assert "runs show" in out and "results get" in out  # what to look at next
    # Each persisted or in-memory result says which rule of the policy decided.
    assert "why: result persisted: retries on task 'extract' needs the value later (rule 4)" in out
    assert "why: result persisted: result_serializer set on task 'build_report' (rule 2)" in out
    assert "why: result not persisted: CONVEYOR_RESULTS_PERSIST_BY_DEFAULT=false (rule 5)" in out
    files = list((tmp_path / "results").iterdir())
    assert files and all(f.stat().st_size > 0 for f in files)
    # The commands it prints work.
    run_id = out.split("runs show ")[1].split()[0]
    conveyor = Path(sys.executable).parent / "conveyor"
    shown = subprocess.run([str(conveyor), "runs", "show", run_id], capture_output=True, text=True, env=env, check=False)
    assert shown.returncode == 0 and "clean" in shown.stdout and "Cached" in shown.stdout
    verified = subprocess.run([str(conveyor), "results", "verify"], capture_output=True, text=True, env=env, check=False)
    assert verified.returncode == 0, verified.stdout
