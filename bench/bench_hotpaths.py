"""Issue 14's table: each hot path against its raw limit, with the ratio and the target.

    .venv/bin/python bench/bench_hotpaths.py [--quick] [--only NAME,NAME]

Rows (each printed as: figure, raw limit, ratio, target):

- ``task``: a trivial task called in a flow, at default settings (INFO lines, written to
  a handler on ``os.devnull``), per call over a plain call;
- ``submit``: 1,000 submitted tasks gathered, per task;
- ``cache-flow``: a cache hit inside a flow, per call;
- ``cache-outside``: a cache hit of a task called outside any flow, against
  ``joblib.Memory`` (a benchmark-only dependency, installed by ``make bench``) in the same run;
- ``load``: loading a persisted 256 MiB ``bytes`` (read, verify, unpickle) against
  ``pickle.load`` of the same bytes from a file;
- ``json-orjson`` / ``json-stdlib``: ``JSONSerializer.dump`` of 200,000 small dicts into a
  file against the library's own ``dumps`` + ``write``;
- ``fresh``: a fresh process running a one-task flow at default settings, against the bare
  interpreter (bytecode cached in a folder of its own, as an installed package has it);
- ``persist-many``: a flow whose 200 tasks each persist 1 MiB, against ``pickle.dump`` +
  ``fsync`` of the same 200 values into 200 new files.

Each figure is the best of a few repeats (the machines are shared: the best is the least
disturbed; ``persist-many`` prints medians, see there). Targets are issue 14's; nothing here
asserts a time. Runs in under a minute.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORK = Path(tempfile.mkdtemp(prefix="conveyor-bench-hot-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
os.environ["CONVEYOR_HOME"] = str(WORK / "home")
os.environ["CONVEYOR_LOCAL_STORAGE_PATH"] = str(WORK / "results")
os.environ.pop("CONVEYOR_LOGGING_LEVEL", None)  # default settings: INFO

from conveyor import flow, task  # noqa: E402


def _default_handler_on_devnull() -> None:
    """Default settings: conveyor adds its own stderr handler at the first run. It is made
    here with stderr pointing at os.devnull, so the lines are formatted and written as
    they would be, without flooding the terminal; stderr is restored afterwards."""
    real, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115 - kept by the handler
    try:
        task(trivial)(0)  # a top-level run: configure_logging adds the handler
    finally:
        sys.stderr = real

MIB = 1 << 20
ROWS: list[tuple[str, str, float, str, float, float]] = []


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def row(name: str, figure: float, unit: str, limit: float, target: float, what: str,
        target_is_ratio: bool = False) -> None:
    """One line of the table. ``unit`` 'x' means both figures are seconds and the target is
    a ratio; otherwise the target bounds the figure itself (or, with ``target_is_ratio``,
    its ratio to the raw limit)."""
    ratio = figure / limit if limit else float("nan")
    by_ratio = unit == "x" or target_is_ratio
    meets = (ratio if by_ratio else figure) <= target
    shown_unit = "s" if unit == "x" else unit
    digits = 3 if unit == "x" else 1
    bound = f"<= {target:g}x" if by_ratio else f"<= {target:g} {unit}"
    ROWS.append((name, what, figure, unit, limit, ratio))
    print(f"{name:<14}{figure:9.{digits}f} {shown_unit:<3} raw {limit:9.{digits}f} {shown_unit:<3}"
          f" ratio {ratio:7.2f}x  target {bound:<10} {'meets' if meets else 'over '}  {what}",
          flush=True)


# -- engine rows ------------------------------------------------------------------------


def trivial(x: int) -> int:
    return x


noop = task(trivial)


def bench_task(calls: int) -> None:
    @flow
    def many(n: int) -> int:
        return sum(noop(i) for i in range(n))

    @flow
    def plain(n: int) -> int:
        return sum(trivial(i) for i in range(n))

    many(10)
    t_task = best_of(lambda: many(calls), 5)
    t_plain = best_of(lambda: plain(calls), 5)
    per = (t_task - t_plain) / calls * 1e6
    row("task", per, "us", t_plain / calls * 1e6, 20,
        f"trivial task in a flow, per call over a plain call ({calls:,} calls, INFO lines on)")


def bench_submit(count: int) -> None:
    @flow
    def fan_out(n: int) -> int:
        futures = [noop.submit(i) for i in range(n)]
        return sum(f.result() for f in futures)

    from concurrent.futures import ThreadPoolExecutor

    def raw() -> None:
        with ThreadPoolExecutor() as pool:
            futures = [pool.submit(trivial, i) for i in range(count)]
            assert sum(f.result() for f in futures) == count * (count - 1) // 2

    fan_out(10), raw()
    # Best of 5, as the task row: on a 2-core VM a round swings 30-60 us per task with
    # how the GIL falls between the threads.
    total = best_of(lambda: fan_out(count), 5)
    t_raw = best_of(raw, 5)
    row("submit", total / count * 1e6, "us", t_raw / count * 1e6, 40,
        f"{count:,} submitted tasks gathered, per task; raw = ThreadPoolExecutor submit+result")


def bench_cache_flow(n: int) -> None:
    @task(cache_key_fn=lambda ctx, params: f"bench-{params['x']}")
    def cached(x: int) -> list[int]:
        return [x] * 10

    @flow
    def hits(n: int) -> None:
        for _ in range(n):
            cached(1)

    import joblib

    memory = joblib.Memory(str(WORK / "joblib-flow"), verbose=0)
    def ten(x: int) -> list[int]:
        return [x] * 10

    jcached = memory.cache(ten)

    def raw() -> None:
        for _ in range(n):
            jcached(1)

    hits(2), raw(), raw()
    total = best_of(lambda: hits(n), 3)
    t_raw = best_of(raw, 3)
    row("cache-flow", total / n * 1e6, "us", t_raw / n * 1e6, 40,
        f"cache hit inside a flow ({n:,} hits); raw = joblib.Memory hit")


def bench_cache_outside(n: int) -> None:
    import joblib

    def square(x: int) -> list[int]:
        return [x] * 10

    cached = task(square, cache_key_fn=lambda ctx, params: f"outside-{params['x']}")
    memory = joblib.Memory(str(WORK / "joblib"), verbose=0)
    jcached = memory.cache(square)
    cached(3), jcached(3)
    cached(3), jcached(3)

    def ours() -> None:
        for _ in range(n):
            cached(3)

    def theirs() -> None:
        for _ in range(n):
            jcached(3)

    t_ours = best_of(ours, 3) / n * 1e6
    t_joblib = best_of(theirs, 3) / n * 1e6
    row("cache-outside", t_ours, "us", t_joblib, 1.0,
        "cache hit of a task called outside any flow; raw = joblib.Memory hit", target_is_ratio=True)


# -- results rows -----------------------------------------------------------------------


def bench_load(size: int) -> None:
    from conveyor.filesystems import LocalFileSystem
    from conveyor.results import persist_value, result_from_dict
    from conveyor.serializers import PickleSerializer

    storage = LocalFileSystem(basepath=str(WORK / "load"))
    value = os.urandom(size)
    ref = persist_value(value, storage=storage, serializer=PickleSerializer(), key="big")
    record = json.loads(ref.json())
    plain = WORK / "big.pickle"
    with open(plain, "wb") as fh:
        pickle.dump(value, fh, protocol=5)
    del value, ref

    def ours() -> None:
        assert len(result_from_dict(record).get()) == size

    def theirs() -> None:
        with open(plain, "rb") as fh:
            assert len(pickle.load(fh)) == size

    ours(), theirs()
    t_ours, t_raw = [], []
    for _ in range(4):  # alternated: a busy moment hits both alike
        t_ours.append(best_of(ours, 1))
        t_raw.append(best_of(theirs, 1))
    row("load", min(t_ours), "x", min(t_raw), 1.2,
        f"load a persisted {size // MIB} MiB bytes (read, verify, unpickle) vs pickle.load "
        f"(checksum {record['checksum'].split(':')[0]})")
    plain.unlink()
    shutil.rmtree(WORK / "load", ignore_errors=True)


def bench_json(jsonlib: str, count: int) -> None:
    from conveyor_serializer_json import JSONSerializer

    value = [
        {"id": i, "name": f"item-{i}", "score": i * 0.5, "tags": ["a", "b"], "ok": i % 2 == 0}
        for i in range(count)
    ]
    serializer = JSONSerializer(jsonlib=jsonlib)
    target = WORK / f"json-{jsonlib}.json"
    if jsonlib == "orjson":
        import orjson

        def raw_dumps(v: Any) -> bytes:
            return orjson.dumps(v)
    else:
        encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False,
                                   separators=(",", ":"))

        def raw_dumps(v: Any) -> bytes:
            return encoder.encode(v).encode()

    def ours() -> None:
        with open(target, "wb") as fh:
            serializer.dump(value, fh)

    def theirs() -> None:
        with open(target, "wb") as fh:
            fh.write(raw_dumps(value))

    ours(), theirs()
    t_ours, t_raw = [], []
    for _ in range(9):  # alternated, best of 9: a round on this VM swings by a third either way
        t_ours.append(best_of(ours, 1))
        t_raw.append(best_of(theirs, 1))
    assert serializer.loads(target.read_bytes()) == value
    row("json-orjson" if jsonlib == "orjson" else "json-stdlib", min(t_ours), "x", min(t_raw), 1.5 if jsonlib == "orjson" else 1.1,
        f"JSONSerializer.dump of {count:,} small dicts to a file vs {jsonlib} dumps + write")


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


def bench_fresh(runs: int) -> None:
    # Bytecode cached, as an installed package has it (pip compiles wheels on install): the
    # cache goes to a folder of its own, so the checkout gets no __pycache__ folders, even
    # where PYTHONDONTWRITEBYTECODE is set (every module would be compiled at each start).
    # Default settings (INFO lines on); the lines are read by the pipe, shown on a failure.
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(WORK / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("CONVEYOR_LOGGING_LEVEL", None)

    def wall(code: str) -> float:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise SystemExit(f"the fresh-process run failed:\n{done.stderr}")
        return time.perf_counter() - start

    wall(FRESH), wall("pass")
    flows, bare = [], []
    for _ in range(runs):
        flows.append(wall(FRESH))
        bare.append(wall("pass"))
    fresh_ms, bare_ms = statistics.median(flows) * 1e3, statistics.median(bare) * 1e3
    row("fresh", fresh_ms, "ms", bare_ms, 100,
        f"fresh process running a 1-task flow (bytecode cached), median of {runs}; raw = bare interpreter")


def bench_persist_many(count: int, size: int) -> None:
    values = [os.urandom(size) for _ in range(count)]

    @task(persist_result=True)
    def produce(i: int) -> bytes:
        return values[i]

    @flow
    def persist_all(n: int) -> None:
        for i in range(n):
            produce(i)

    rounds = iter(range(1_000_000))

    def theirs() -> None:
        # Fresh files in a fresh folder, as each run of the flow writes fresh keys: on ext4
        # overwriting files that exist is a cheaper operation (about 3x here) than making
        # new ones, and no durable write of a new result can take it.
        folder = WORK / f"pickles-{next(rounds)}"
        folder.mkdir()
        for i, v in enumerate(values):
            with open(folder / f"{i}.pickle", "wb") as fh:
                pickle.dump(v, fh, protocol=5)
                fh.flush()
                os.fsync(fh.fileno())

    def synced(fn: Callable[[], Any], times: list[float]) -> None:
        os.sync()  # each round starts with no dirty pages: the disk's state is the noise here
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)

    persist_all(2), theirs()
    t_ours: list[float] = []
    t_raw: list[float] = []
    for _ in range(5):  # alternated; medians: a round's time swings 2x with the page cache
        synced(lambda: persist_all(count), t_ours)
        synced(theirs, t_raw)
    row("persist-many", statistics.median(t_ours), "x", statistics.median(t_raw), 1.2,
        f"a flow persisting {count} x {size // MIB} MiB (one task each) vs pickle.dump + fsync each "
        f"(medians of 5; best {min(t_ours):.3f} s vs {min(t_raw):.3f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated row names")
    args = parser.parse_args()
    q = 8 if args.quick else 1
    benches: dict[str, Callable[[], None]] = {
        "task": lambda: bench_task(5000 // q),
        "submit": lambda: bench_submit(1000 // q),
        "cache-flow": lambda: bench_cache_flow(2000 // q),
        "cache-outside": lambda: bench_cache_outside(2000 // q),
        "load": lambda: bench_load(256 * MIB // q),
        "json-orjson": lambda: bench_json("orjson", 200_000 // q),
        "json-stdlib": lambda: bench_json("json", 200_000 // q),
        "fresh": lambda: bench_fresh(7 if not args.quick else 2),
        "persist-many": lambda: bench_persist_many(200 // q, MIB),
    }
    chosen = [n for n in args.only.split(",") if n] or list(benches)
    _default_handler_on_devnull()
    timer = f"sum(range(1000)) {min(__import__('timeit').repeat('sum(range(1000))', number=2000, repeat=5)) / 2000 * 1e6:.1f} us"
    print(f"conveyor hot paths (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"machine speed {timer}; about 10 us on an idle modern core)")
    for name in chosen:
        benches[name]()


if __name__ == "__main__":
    main()
