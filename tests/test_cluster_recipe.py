"""The cluster recipe (`make cluster`): the demo pipeline, unchanged, on PostgreSQL
metadata, S3 results (SeaweedFS) and 4 Dask worker processes, all started by the recipe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_recipe_runs_the_pipeline_on_the_cluster_and_says_where_things_went(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "cluster" / "run.py")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CONVEYOR_TASK_RUNNER=dask:tcp://127.0.0.1:" in out
    assert "CONVEYOR_RESULTS_DEFAULT_STORAGE=s3/cluster" in out
    assert re.search(r"CONVEYOR_DATABASE_URL=postgresql://\S+", out)
    # the pipeline's results went to S3, its records to PostgreSQL, its tasks to Dask
    assert "extract                Completed after 2 attempts s3://conveyor-cluster/results/" in out
    assert "clean                  Cached                     s3://" in out
    assert "records: PostgreSQL at postgresql://" in out
    assert "tasks:   Dask scheduler tcp://127.0.0.1:" in out and "4 worker processes" in out
    assert out.count("sales-pipeline  Completed") == 2  # `conveyor runs ls` against the cluster's store
    assert "8 stored result(s)" in out  # `conveyor results ls`
    assert not list(tmp_path.iterdir())  # nothing left behind in the working directory
