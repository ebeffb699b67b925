"""Persisting and loading a large value: conveyor's stored format against plain pickle.

    .venv/bin/python bench/bench_persist.py [--size-mib 256] [--repeat 3] [--cases bytes,numpy]

For each value (a ``bytes`` of random data, a float64 numpy array) it measures, each in
a fresh subprocess so that peak memory is the operation's own:

- ``pickle.dump(value, file, protocol=5)`` + flush + ``fsync``  (the baseline)
- ``persist_value(value, storage=LocalFileSystem(...), serializer=PickleSerializer())``
- ``pickle.load(file)``                                        (the baseline)
- ``result_from_dict(record).get()``: read, verify the checksum (BLAKE3), deserialize

Times: one child per value runs the four operations ``--repeat`` times, alternated (so
that a busy moment on a shared machine hits every operation alike), and the best and
median are printed. Memory: each operation runs once in its own fresh child; its peak is
the rise of the child's peak RSS (``resource.getrusage``) above its level after imports
and warm-up, divided by the value's size. It includes the value itself: 1.0 is the floor.
Targets (issue 5): persist at most 1.2x the baseline's time and at most 1.3x the value
in peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIB = 1 << 20


def peak_rss() -> int:
    """Peak resident set size of this process, in bytes (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def make_value(case: str, size: int) -> Any:
    """A value of ``size`` bytes built without a temporary copy (so the peak is honest)."""
    if case == "bytes":
        return os.urandom(size)
    if case == "numpy":
        import numpy as np

        array = np.empty(size // 8, dtype=np.float64)
        np.random.default_rng(5).random(out=array)
        return array
    raise SystemExit(f"unknown case {case!r}; use bytes or numpy")


def same(a: Any, b: Any) -> bool:
    try:
        import numpy as np

        if isinstance(a, np.ndarray):
            return bool(np.array_equal(a, b))
    except ImportError:
        pass
    return bool(a == b)


# -- the children: timing (operations alternated) and memory (one operation each) ---------

OPERATIONS = ("pickle-dump", "persist", "pickle-load", "get")


class Harness:
    """Everything one child needs, imported and warmed up before any measurement."""

    def __init__(self, case: str, folder: Path) -> None:
        import pickle

        from conveyor.filesystems import LocalFileSystem
        from conveyor.results import persist_value, result_from_dict
        from conveyor.serializers import PickleSerializer

        self.pickle = pickle
        self.persist_value = persist_value
        self.result_from_dict = result_from_dict
        self.case = case
        self.folder = folder
        self.storage = LocalFileSystem(basepath=str(folder / "results"))
        self.serializer = PickleSerializer()
        self.pickle_path = folder / f"{case}.pickle"
        self.record_path = folder / f"{case}.reference.json"
        if case == "numpy":
            import numpy  # noqa: F401  (its import is not part of any figure)
        # Warm-up: plugins, the store, the block document, code paths.
        warm = persist_value(
            b"warm-up", storage=self.storage, serializer=self.serializer, key="warm-up"
        )
        result_from_dict(json.loads(warm.json())).get()
        with open(folder / "warm.pickle", "wb") as fh:
            pickle.dump(b"warm-up", fh, protocol=5)

    def run(self, op: str, value: Any = None) -> tuple[float, Any]:
        """Run one operation; return (seconds, loaded value or None)."""
        if op == "pickle-dump":
            self.pickle_path.unlink(missing_ok=True)
            start = time.perf_counter()
            with open(self.pickle_path, "wb") as fh:
                self.pickle.dump(value, fh, protocol=5)
                fh.flush()
                os.fsync(fh.fileno())
            return time.perf_counter() - start, None
        if op == "persist":
            (self.folder / "results" / self.case).unlink(missing_ok=True)
            start = time.perf_counter()
            ref = self.persist_value(
                value, storage=self.storage, serializer=self.serializer, key=self.case
            )
            seconds = time.perf_counter() - start
            self.record_path.write_text(ref.json())
            return seconds, None
        if op == "pickle-load":
            start = time.perf_counter()
            with open(self.pickle_path, "rb") as fh:
                loaded = self.pickle.load(fh)
            return time.perf_counter() - start, loaded
        record = json.loads(self.record_path.read_text())
        start = time.perf_counter()
        loaded = self.result_from_dict(record).get()
        return time.perf_counter() - start, loaded


def timing_child(case: str, folder: Path, size: int, repeat: int) -> dict[str, Any]:
    """Every operation ``repeat`` times, alternated so that a busy moment hits all alike."""
    harness = Harness(case, folder)
    value = make_value(case, size)
    times: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    ok = True
    for _ in range(repeat):
        for op in ("pickle-dump", "persist"):
            times[op].append(harness.run(op, value)[0])
        for op in ("pickle-load", "get"):
            seconds, loaded = harness.run(op)
            times[op].append(seconds)
            ok = ok and same(loaded, value)
            del loaded
    stored = {
        "pickle-dump": harness.pickle_path.stat().st_size,
        "persist": (folder / "results" / case).stat().st_size,
    }
    return {"times": times, "ok": ok, "stored": stored}


def memory_child(case: str, op: str, folder: Path, size: int) -> dict[str, Any]:
    """Peak RSS rise of one operation (value included) over the warmed-up baseline."""
    harness = Harness(case, folder)
    baseline = peak_rss()
    if op in ("pickle-dump", "persist"):
        value = make_value(case, size)
        harness.run(op, value)
    else:
        _seconds, _loaded = harness.run(op)
    return {"peak": peak_rss() - baseline}


# -- the parent: run every child and print the table -----------------------------------


def run_child(*args: str, folder: Path) -> dict[str, Any]:
    done = subprocess.run(  # noqa: PLW1510 - the return code is checked below
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CONVEYOR_HOME": str(folder / "home")},
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cases", default="bytes,numpy")
    parser.add_argument(
        "--dir", default=None, help="folder for the files (default: a temporary one)"
    )
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        print(
            f"value size {args.size_mib} MiB; time: best and median of {args.repeat}, operations "
            f"alternated in one process; memory: one fresh process per operation"
        )
        header = (
            f"{'case':<7}{'operation':<13}{'best s':>8}{'ratio':>7}{'median s':>10}{'ratio':>7}"
            f"{'MiB/s':>7}{'peak/value':>12}"
        )
        print(header)
        print("-" * len(header))
        for case in args.cases.split(","):
            timing = run_child(
                "time", case, str(folder), str(size), str(args.repeat), folder=folder
            )
            peaks = {
                op: run_child("memory", case, str(folder), str(size), op, folder=folder)["peak"]
                for op in OPERATIONS
            }
            best = {op: min(t) for op, t in timing["times"].items()}
            median = {op: statistics.median(t) for op, t in timing["times"].items()}
            base_of = {
                "pickle-dump": "pickle-dump",
                "persist": "pickle-dump",
                "pickle-load": "pickle-load",
                "get": "pickle-load",
            }
            for op in OPERATIONS:
                base = base_of[op]
                print(
                    f"{case:<7}{op:<13}{best[op]:>8.3f}{best[op] / best[base]:>6.2f}x"
                    f"{median[op]:>10.3f}{median[op] / median[base]:>6.2f}x"
                    f"{size / MIB / best[op]:>7.0f}{peaks[op] / size:>11.2f}x"
                )
            overhead = timing["stored"]["persist"] - timing["stored"]["pickle-dump"]
            print(
                f"{case:<7}stored file: {overhead} bytes more than the plain pickle; "
                f"values identical after loading: {timing['ok']}"
            )
            for f in list(folder.glob(f"{case}*")) + list((folder / "results").glob(f"{case}*")):
                f.unlink()
        print(
            "targets: persist <= 1.20x pickle-dump+fsync in time, <= 1.30x the value in peak memory"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, case, folder, size = sys.argv[2:6]
        if kind == "time":
            out = timing_child(case, Path(folder), int(size), int(sys.argv[6]))
        else:
            out = memory_child(case, sys.argv[6], Path(folder), int(size))
        print(json.dumps(out))
    else:
        main()
