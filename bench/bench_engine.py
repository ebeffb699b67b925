"""Engine benchmarks: figures and ratios, printed (no assertion on time).

1. per-call overhead of a trivial task inside a flow, every state recorded (target <= 50 us);
2. 1,000 submitted tasks gathered;
3. a fresh process that runs a one-task flow (target < 0.5 s in all);
4. a cache hit (target <= 100 us).

Run: ``.venv/bin/python bench/bench_engine.py`` (a temporary CONVEYOR_HOME is used).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="conveyor-bench-engine-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)  # runs after the store's final flush
os.environ["CONVEYOR_HOME"] = str(WORK / "home")
os.environ["CONVEYOR_LOCAL_STORAGE_PATH"] = str(WORK / "results")
os.environ.setdefault("CONVEYOR_LOGGING_LEVEL", "WARNING")

from conveyor import flow, get_client, task

N_CALLS = int(os.environ.get("BENCH_CALLS", "5000"))
REPEATS = 5


def trivial(x: int) -> int:
    return x


noop = task(trivial)


def per_call_overhead() -> tuple[float, float]:
    """(engine per-call overhead, plain call) in microseconds: best of REPEATS flows."""

    @flow
    def many(n: int) -> int:
        total = 0
        for i in range(n):
            total += noop(i)
        return total

    @flow
    def plain(n: int) -> int:
        total = 0
        for i in range(n):
            total += trivial(i)
        return total

    many(10)  # warm-up: imports, plugin manager, database
    best_task = best_plain = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        many(N_CALLS)
        best_task = min(best_task, time.perf_counter() - start)
        start = time.perf_counter()
        plain(N_CALLS)
        best_plain = min(best_plain, time.perf_counter() - start)
    return (best_task - best_plain) / N_CALLS * 1e6, best_plain / N_CALLS * 1e6


def recorded_check() -> int:
    """How many task runs the last benchmark flow recorded (every state recorded)."""
    client = get_client()
    run = client.read_flow_runs(flow_name="many", limit=1)[0]
    runs = client.read_task_runs(run.id)
    assert all(r.state.is_completed() for r in runs)
    states = client.store.query(
        "SELECT count(*) FROM states s JOIN task_runs t ON t.id = s.run_id WHERE t.flow_run_id = ?",
        (run.id,),
    )[0][0]
    assert states == 2 * len(runs), states
    return len(runs)


def submitted(count: int = 1000) -> float:
    @flow
    def fan_out(n: int) -> int:
        futures = [noop.submit(i) for i in range(n)]
        return sum(f.result() for f in futures)

    fan_out(10)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        assert fan_out(count) == count * (count - 1) // 2
        best = min(best, time.perf_counter() - start)
    return best


FRESH = """
from conveyor import flow, task

@task
def hello(name):
    return f"hello {name}"

@flow
def one_task():
    return hello("world")

assert one_task() == "hello world"
"""


def fresh_process() -> tuple[float, float, float]:
    """Median wall times: a fresh process running a one-task flow; the same with the S3
    plugin disabled (it imports boto3 when the plugins load); bare `python -c pass`."""
    def wall(code: str, **env: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, **env})
        return time.perf_counter() - start

    wall(FRESH)
    flows = [wall(FRESH) for _ in range(REPEATS)]
    no_s3 = [wall(FRESH, CONVEYOR_DISABLE_PLUGINS="storage-s3") for _ in range(REPEATS)]
    bare = [wall("pass") for _ in range(REPEATS)]
    return statistics.median(flows), statistics.median(no_s3), statistics.median(bare)


def machine_speed() -> float:
    """Microseconds for sum(range(1000)): about 10 us on an idle modern desktop core."""
    import timeit

    return min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6


def cache_hit(n: int = 2000) -> tuple[float, float]:
    """(per cache hit inside a flow, per miss that persists) in microseconds."""
    @task(cache_key_fn=lambda ctx, params: f"bench-{params['x']}")
    def cached(x: int) -> list[int]:
        return [x] * 10

    @flow
    def hits(n: int) -> None:
        for _ in range(n):
            cached(1)

    @flow
    def misses(n: int) -> None:
        for i in range(n):
            cached(i + 10)

    hits(1)
    start = time.perf_counter()
    misses(n // 4)
    miss = (time.perf_counter() - start) / (n // 4) * 1e6
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        hits(n)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6, miss


def main() -> None:
    print(f"conveyor engine benchmark (python {sys.version.split()[0]}, work dir {WORK})")
    print(f"machine speed: sum(range(1000)) takes {machine_speed():.1f} us "
          f"(about 10 us on an idle modern core; scale the figures below by that ratio)")
    overhead, plain = per_call_overhead()
    recorded = recorded_check()
    print(
        f"trivial task inside a flow:     {overhead:8.1f} us overhead per call "
        f"(target <= 50 us; plain call {plain:.2f} us; {recorded} task runs, 2 states each recorded)"
    )
    logging.getLogger("conveyor").handlers[:] = []
    os.environ["CONVEYOR_LOGGING_LEVEL"] = "INFO"
    handler = logging.FileHandler(os.devnull)
    logging.getLogger("conveyor").addHandler(handler)
    overhead_info, _ = per_call_overhead()
    logging.getLogger("conveyor").removeHandler(handler)
    os.environ["CONVEYOR_LOGGING_LEVEL"] = "WARNING"
    print(
        f"  same, INFO lines formatted:   {overhead_info:8.1f} us per call "
        f"(2 log lines per call written to {os.devnull}; ratio {overhead_info / overhead:.2f}x)"
    )
    total = submitted(1000)
    print(
        f"1,000 submitted tasks gathered: {total * 1e3:8.1f} ms "
        f"({total * 1e3:.1f} us per task; thread-pool runner, 3 states each)"
    )
    fresh, no_s3, bare = fresh_process()
    print(
        f"fresh process, one-task flow:   {fresh * 1e3:8.1f} ms wall (target < 500 ms; "
        f"bare interpreter {bare * 1e3:.1f} ms, conveyor adds {(fresh - bare) * 1e3:.1f} ms)"
    )
    print(
        f"  same, S3 plugin disabled:     {no_s3 * 1e3:8.1f} ms wall "
        f"(the S3 plugin's import of boto3 costs {(fresh - no_s3) * 1e3:.1f} ms)"
    )
    hit, miss = cache_hit()
    print(
        f"cache hit inside a flow:        {hit:8.1f} us per call (target <= 100 us; "
        f"a miss that persists costs {miss:.1f} us, {miss / hit:.1f}x)"
    )


if __name__ == "__main__":
    main()
