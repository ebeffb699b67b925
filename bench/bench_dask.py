"""Dask task runner benchmarks: figures and ratios against raw Dask, printed (no assertion).

1. 1,000 trivial tasks submitted in a flow on a 2-worker ``LocalCluster`` against raw
   ``client.submit`` + ``gather`` of the same function on the same cluster (target <= 1.5x);
2. 100 x 8 MiB persisted results written from the workers to S3 (SeaweedFS) against raw
   boto3 ``put_object`` of the same bytes from the workers.

Run: ``.venv/bin/python bench/bench_dask.py`` (a temporary CONVEYOR_HOME is used; needs
``conveyor-runner-dask`` and the SeaweedFS binary of ``conveyor-storage-s3[dev]``).
``BENCH_TASKS``, ``BENCH_BLOBS`` and ``BENCH_REPEATS`` change the sizes.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="conveyor-bench-dask-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
os.environ["CONVEYOR_HOME"] = str(WORK / "home")
os.environ["CONVEYOR_LOCAL_STORAGE_PATH"] = str(WORK / "results")
os.environ.setdefault("CONVEYOR_LOGGING_LEVEL", "WARNING")

N_TASKS = int(os.environ.get("BENCH_TASKS", "1000"))
N_BLOBS = int(os.environ.get("BENCH_BLOBS", "100"))
BLOB = 8 * 1024 * 1024
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def trivial(x: int) -> int:
    return x + 1


def blob(i: int) -> bytes:
    return i.to_bytes(8, "little") * (BLOB // 8)


def raw_put(storage: object, key: str, i: int) -> int:
    """What a worker does without conveyor: make the bytes, one boto3 put (the block's
    cached client, so both sides pay the same connection set-up)."""
    data = blob(i)
    storage.client().put_object(Bucket=storage.bucket, Key=key, Body=data)  # type: ignore[attr-defined]
    return len(data)


def block_write(storage: object, key: str, i: int) -> int:
    """The S3 block's own write path on a worker (what conveyor runs there), no engine."""
    from conveyor.results import write_result
    from conveyor.serializers import resolve_serializer

    return write_result(storage, key, blob(i), resolve_serializer("pickle"))[1]  # type: ignore[arg-type]


def best(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from conveyor import flow, task
    from conveyor.task_runners import DaskTaskRunner
    from distributed import Client, LocalCluster

    noop = task(trivial)
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, memory_limit="1GiB",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        runner = DaskTaskRunner(address=cluster.scheduler_address)

        def raw() -> None:
            assert client.gather([client.submit(trivial, i, pure=False) for i in range(N_TASKS)])[-1] == N_TASKS

        @flow(task_runner=runner)
        def many(n: int) -> int:
            futures = noop.map(range(n))
            return sum(f.result() for f in futures)

        raw()  # warm the workers
        many(10)
        raw_s = best(raw)
        ours_s = best(lambda: many(N_TASKS))
        print(f"{N_TASKS} trivial tasks, 2 workers: raw submit+gather {raw_s:.3f} s "
              f"({raw_s / N_TASKS * 1e6:.0f} us/task), conveyor on Dask {ours_s:.3f} s "
              f"({ours_s / N_TASKS * 1e6:.0f} us/task): {ours_s / raw_s:.2f}x raw (target <= 1.5x)")
        if os.environ.get("BENCH_SKIP_S3"):
            return
        s3_part(client, cluster, flow, task, runner)


def s3_part(client, cluster, flow, task, runner) -> None:
    from conveyor_storage_s3.testing import start_seaweedfs

    with start_seaweedfs(WORK / "seaweedfs") as server:
        bucket = server.create_bucket()
        storage = server.block(f"{bucket}/conveyor")
        make = task(blob, persist_result=True, result_storage=storage, result_serializer="pickle")

        @flow(task_runner=runner)
        def blobs(n: int) -> int:
            return len([f.state for f in make.map(range(n)) if f.wait() is None])

        def raw() -> None:
            done = client.gather([client.submit(raw_put, storage, f"raw/{i}", i, pure=False) for i in range(N_BLOBS)])
            assert sum(done) == N_BLOBS * BLOB

        def block() -> None:
            done = client.gather([client.submit(block_write, storage, f"block/{i}", i, pure=False)
                                  for i in range(N_BLOBS)])
            assert sum(done) >= N_BLOBS * BLOB

        raw()
        raw_s = best(raw)
        block_s = best(block)
        ours_s = best(lambda: blobs(N_BLOBS))
        mib = N_BLOBS * BLOB / 2**20
        print(f"{N_BLOBS} x 8 MiB results to S3 from the workers: raw boto3 puts {raw_s:.3f} s "
              f"({mib / raw_s:.0f} MiB/s); the S3 block's write_result alone {block_s:.3f} s "
              f"({block_s / raw_s:.2f}x raw); conveyor persisted {ours_s:.3f} s ({mib / ours_s:.0f} MiB/s): "
              f"{ours_s / raw_s:.2f}x raw, {ours_s / block_s:.2f}x the block's write")


if __name__ == "__main__":
    sys.exit(main())
