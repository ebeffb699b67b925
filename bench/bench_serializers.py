"""Serializer benchmark: dump+load time and peak memory against the raw library calls.

Cases: a 256 MiB ``bytes`` value, a 256 MiB numpy array, 200,000 small dicts.
Each (case, method) runs in its own subprocess, so peak memory is that of one method
alone. Peak memory is the process's resident high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs`` just before the method runs; ``ru_maxrss`` where that is not
available) minus its resident size with the value already built: it counts every real
copy, whoever allocates it (Python, numpy, the C library), which tracemalloc would not.
"copies" is that extra peak divided by the resident size of the value itself: the
loaded value is one copy, so 1.00 means nothing else was held.

Methods:
- ``raw``: ``lib.dumps`` then ``lib.loads`` (the target: at most 1.1x its time);
- ``ser``: the serializer's ``dumps`` then ``loads``;
- ``raw-file``: ``lib.dumps`` + ``file.write``, then ``file.read`` + ``lib.loads``;
- ``ser-file``: the serializer's ``dump`` into a write-only file object, then ``load``
  from the opened file: the path a persisted result takes.

Run: ``.venv/bin/python bench/bench_serializers.py`` (under a minute; ``--quick`` uses
1/8 of the sizes).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

MiB = 1 << 20
REPEATS = 2


# -- measuring -------------------------------------------------------------------------------


def _rss_kib() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_kib() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- values ------------------------------------------------------------------------------------


def make_value(case: str, scale: int) -> Any:
    if case == "bytes":
        return b"\x5a" * (256 * MiB // scale)
    if case == "numpy":
        import numpy as np

        return np.arange(256 * MiB // 8 // scale, dtype=np.float64)
    if case == "dicts":
        return [
            {"id": i, "name": f"item-{i}", "score": i * 0.5, "tags": ["a", "b"], "ok": i % 2 == 0}
            for i in range(200_000 // scale)
        ]
    raise SystemExit(f"unknown case {case!r}")


# -- methods -----------------------------------------------------------------------------------


class WriteOnly:
    """Only .write(), as a storage block's open_write gives."""

    def __init__(self, fh: Any) -> None:
        self._write = fh.write

    def write(self, data: Any) -> int:
        return self._write(data)


def _raw_lib(lib: str) -> tuple[Any, Any]:
    if lib == "pickle":
        import pickle

        return (lambda v: pickle.dumps(v, protocol=5)), pickle.loads
    if lib == "orjson":
        import orjson

        return orjson.dumps, orjson.loads
    if lib == "json":
        import json as stdjson

        enc = stdjson.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
        return (lambda v: enc.encode(v).encode()), stdjson.loads
    raise SystemExit(f"unknown lib {lib!r}")


def _serializer(lib: str) -> Any:
    from conveyor.serializers import JSONSerializer, PickleSerializer

    if lib == "pickle":
        return PickleSerializer(picklelib="pickle")
    if lib == "cloudpickle":
        return PickleSerializer(picklelib="cloudpickle")
    return JSONSerializer(jsonlib=lib)


def run_once(method: str, lib: str, value: Any, path: str, ser: Any) -> tuple[float, float]:
    """(dump seconds, load seconds) of one round trip; the loaded value is dropped."""
    data: Any = None
    if method in ("raw", "raw-file"):
        dumps, loads = _raw_lib("pickle" if lib == "cloudpickle" else lib)
    if method == "raw":
        t0 = time.perf_counter()
        data = dumps(value)
        t1 = time.perf_counter()
        back = loads(data)
        t2 = time.perf_counter()
    elif method == "ser":
        t0 = time.perf_counter()
        data = ser.dumps(value)
        t1 = time.perf_counter()
        back = ser.loads(data)
        t2 = time.perf_counter()
    elif method == "raw-file":
        t0 = time.perf_counter()
        with open(path, "wb") as fh:
            fh.write(dumps(value))
        t1 = time.perf_counter()
        with open(path, "rb") as fh:
            back = loads(fh.read())
        t2 = time.perf_counter()
    elif method == "ser-file":
        t0 = time.perf_counter()
        with open(path, "wb") as fh:
            ser.dump(value, WriteOnly(fh))
        t1 = time.perf_counter()
        with open(path, "rb") as fh:
            back = ser.load(fh)
        t2 = time.perf_counter()
    else:
        raise SystemExit(f"unknown method {method!r}")
    del back, data
    return t1 - t0, t2 - t1


def child(case: str, method: str, lib: str, scale: int) -> None:
    make_value(case, scale * 64)  # imports (numpy) before the value is measured
    gc.collect()
    before = _rss_kib()
    value = make_value(case, scale)
    value_kib = max(1, _rss_kib() - before)
    ser = _serializer(lib) if method.startswith("ser") else None
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        path = os.path.join(tmp, "payload")
        # warm-up on a small value of the same kind: imports, caches
        run_once(method, lib, make_value(case, scale * 64), path, ser)
        gc.collect()
        base = _rss_kib()
        exact = _reset_peak()
        run_once(method, lib, value, path, ser)
        peak = _peak_kib()
        extra_kib = max(0, peak - base)
        times = [run_once(method, lib, value, path, ser) for _ in range(REPEATS)]
    size = len(_raw_lib("pickle" if lib in ("cloudpickle", "pickle") else lib)[0](value))
    best = min(times, key=lambda t: t[0] + t[1])
    print(json.dumps({
        "dump": min(t[0] for t in times),
        "load": min(t[1] for t in times),
        "total": best[0] + best[1],
        "extra_mib": extra_kib / 1024,
        "data_mib": size / MiB,
        "value_mib": value_kib / 1024,
        "exact_peak": exact,
    }))


# -- parent ------------------------------------------------------------------------------------

PLAN = [
    # case, lib, methods
    ("bytes", "cloudpickle", ("raw", "ser", "raw-file", "ser-file")),
    ("numpy", "cloudpickle", ("raw", "ser", "raw-file", "ser-file")),
    ("dicts", "cloudpickle", ("raw", "ser", "ser-file")),
    ("dicts", "orjson", ("raw", "ser")),
    ("dicts", "json", ("raw", "ser")),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/8 of the sizes")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "METHOD", "LIB"), help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, scale=args.scale)
        return
    scale = 8 if args.quick else 1
    print(f"conveyor serializer benchmark (python {sys.version.split()[0]}; best of {REPEATS}; "
          f"raw pickle = pickle.dumps/loads protocol 5, the library cloudpickle uses underneath)")
    header = f"{'case':<7} {'serializer':<20} {'method':<9} {'dump s':>8} {'load s':>8} {'total s':>8} {'ratio':>6} {'peak+ MiB':>10} {'copies':>7}"
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    for case, lib, methods in PLAN:
        results: dict[str, dict[str, Any]] = {}
        for method in methods:
            out = subprocess.run(
                [sys.executable, __file__, "--child", case, method, lib, "--scale", str(scale)],
                capture_output=True, text=True, check=False,
            )
            if out.returncode != 0:
                print(f"{case:<7} {lib:<20} {method:<9} FAILED: {out.stderr.strip().splitlines()[-1:]}")
                continue
            results[method] = r = json.loads(out.stdout.strip().splitlines()[-1])
            reference = results.get("raw-file" if method.endswith("file") else "raw") or results.get("raw")
            ratio = r["total"] / reference["total"] if reference else float("nan")
            name = lib if method.startswith("raw") else f"{_serializer(lib).type}({lib})"
            print(
                f"{case:<7} {name:<20} {method:<9} {r['dump']:>8.3f} {r['load']:>8.3f} "
                f"{r['total']:>8.3f} {ratio:>6.2f} {r['extra_mib']:>10.1f} "
                f"{r['extra_mib'] / r['value_mib']:>7.2f}",
                flush=True,
            )
    print("(ratio: time against 'raw' for dumps/loads rows, against 'raw-file' for file rows "
          "(against 'raw' where there is none); peak+: resident peak above the process with "
          "the value built; copies: peak+ / resident size of the value itself; JSON is not "
          f"run on bytes and arrays: it holds no raw binary. {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
