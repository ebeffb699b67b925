"""Persisting and loading a large value: conveyor's stored format against plain pickle.

    .venv/bin/python bench/bench_persist.py [--size-mib 256] [--repeat 3] [--cases bytes,numpy]

For each value (a ``bytes`` of random data, a float64 numpy array) it measures, each in
a fresh subprocess so that peak memory is the operation's own:

- ``pickle.dump(value, file, protocol=5)`` + flush + ``fsync``  (the baseline)
- ``persist_value(value, storage=LocalFileSystem(...), serializer=PickleSerializer())``
- ``pickle.load(file)``                                        (the baseline)
- ``result_from_dict(record).get()``: read, verify sha256, deserialize

Time is the best of ``--repeat`` runs in the child. Peak memory is the rise of the
child's peak RSS (``resource.getrusage``) above its level after imports and warm-up,
divided by the value's size; it includes the value itself, so 1.0 is the floor.
Targets (issue 5): persist at most 1.2x the baseline's time and at most 1.3x the value
in peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


# -- the child: one operation, timed, in a fresh process -------------------------------


def child(case: str, op: str, folder: Path, size: int, repeat: int) -> dict[str, Any]:
    import pickle

    from conveyor.filesystems import LocalFileSystem
    from conveyor.results import persist_value, result_from_dict
    from conveyor.serializers import PickleSerializer

    storage = LocalFileSystem(basepath=str(folder / "results"))
    serializer = PickleSerializer()
    pickle_path = folder / f"{case}.pickle"
    record_path = folder / f"{case}.reference.json"
    if case == "numpy":
        import numpy  # noqa: F401  (imported before the baseline, like the value's owner would)

    # Warm-up: plugins, the store, the block document, code paths; all before the baseline.
    warm = persist_value(b"warm-up", storage=storage, serializer=serializer, key="warm-up")
    result_from_dict(json.loads(warm.json())).get()
    with open(folder / "warm.pickle", "wb") as fh:
        pickle.dump(b"warm-up", fh, protocol=5)

    times: list[float] = []
    checked = True
    if op in ("pickle-dump", "persist"):
        baseline = peak_rss()
        value = make_value(case, size)
        for i in range(repeat):
            if op == "pickle-dump":
                pickle_path.unlink(missing_ok=True)
                start = time.perf_counter()
                with open(pickle_path, "wb") as fh:
                    pickle.dump(value, fh, protocol=5)
                    fh.flush()
                    os.fsync(fh.fileno())
                times.append(time.perf_counter() - start)
            else:
                start = time.perf_counter()
                ref = persist_value(value, storage=storage, serializer=serializer, key=f"{case}-{i}")
                times.append(time.perf_counter() - start)
                record_path.write_text(ref.json())
                del ref
        stored = (
            pickle_path.stat().st_size
            if op == "pickle-dump"
            else (folder / "results" / f"{case}-{repeat - 1}").stat().st_size
        )
        for i in range(repeat - 1):  # keep only the last for the load runs
            (folder / "results" / f"{case}-{i}").unlink(missing_ok=True)
    else:
        record = json.loads(record_path.read_text()) if op == "get" else None
        baseline = peak_rss()
        loaded = None
        for _ in range(repeat):
            loaded = None
            start = time.perf_counter()
            if op == "pickle-load":
                with open(pickle_path, "rb") as fh:
                    loaded = pickle.load(fh)
            else:
                loaded = result_from_dict(record).get()  # type: ignore[arg-type]
            times.append(time.perf_counter() - start)
        stored = pickle_path.stat().st_size if op == "pickle-load" else int(record["size"])  # type: ignore[index]
        peak = peak_rss()
        if not os.environ.get("BENCH_SKIP_CHECK"):
            checked = same(loaded, make_value(case, size)) if case == "numpy" else len(loaded) == size  # type: ignore[arg-type]
        return {"seconds": min(times), "all": times, "peak": peak - baseline, "stored": stored, "ok": checked}
    return {"seconds": min(times), "all": times, "peak": peak_rss() - baseline, "stored": stored, "ok": checked}


# -- the parent: run every case in its own process and print the table ------------------


def run_child(case: str, op: str, folder: Path, size: int, repeat: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", case, op, str(folder), str(size), str(repeat)],
        capture_output=True,
        text=True,
        env={**os.environ, "CONVEYOR_HOME": str(folder / "home")},
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {case}/{op} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="bytes,numpy")
    parser.add_argument("--dir", default=None, help="folder for the files (default: a temporary one)")
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"value size {args.size_mib} MiB, best of {args.repeat}, files in {folder}")
        header = f"{'case':<7}{'operation':<14}{'seconds':>9}{'ratio':>8}{'MiB/s':>8}{'peak/value':>12}{'stored MiB':>12}"
        print(header)
        print("-" * len(header))
        for case in args.cases.split(","):
            results = {}
            for op in ("pickle-dump", "persist", "pickle-load", "get"):
                results[op] = run_child(case, op, folder, size, args.repeat)
            for op, base in (("pickle-dump", None), ("persist", "pickle-dump"), ("pickle-load", None), ("get", "pickle-load")):
                r = results[op]
                ratio = f"{r['seconds'] / results[base]['seconds']:.2f}x" if base else "1.00x"
                flag = "" if r["ok"] else "  (value differs!)"
                print(
                    f"{case:<7}{op:<14}{r['seconds']:>9.3f}{ratio:>8}{size / MIB / r['seconds']:>8.0f}"
                    f"{r['peak'] / size:>11.2f}x{r['stored'] / MIB:>12.2f}{flag}"
                )
            for f in folder.glob(f"{case}*"):
                f.unlink()
            for f in (folder / "results").glob(f"{case}*"):
                f.unlink()
        print("targets: persist <= 1.20x pickle-dump+fsync in time, <= 1.30x the value in peak memory")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        case, op, folder, size, repeat = sys.argv[2:7]
        print(json.dumps(child(case, op, Path(folder), int(size), int(repeat))))
    else:
        main()
