"""``conveyor runs ls`` benchmark: figures printed (target: under 150 ms with 100,000 runs).

A store of 100,000 flow runs (one in ten a subflow run, one in 500 failed, 20 flows),
filled with direct ``executemany`` inserts through the store's transaction (as
``bench/bench_ui.py`` does). Then, median of REPEATS:

1. the command in this process (``conveyor.cli.main``, stdout discarded): the default
   (newest 50 top-level runs), ``--json``, ``--flow``, a rare ``--state``, ``--since``,
   ``--subflows`` and ``--limit 500``;
2. against what the command did before (every run read: ``read_flow_runs()``) and the raw
   keyset page the command uses;
3. the command as a subprocess (``python -m conveyor.cli runs ls``), interpreter start
   and imports included, against ``python -c "import conveyor.cli"`` (the floor).

Run: ``.venv/bin/python bench/bench_runs_ls.py`` (a temporary CONVEYOR_HOME is used).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="conveyor-bench-runs-ls-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
os.environ["CONVEYOR_HOME"] = str(WORK / "home")
os.environ["CONVEYOR_LOCAL_STORAGE_PATH"] = str(WORK / "results")
os.environ.setdefault("CONVEYOR_LOGGING_LEVEL", "WARNING")

from conveyor.cli import main as cli
from conveyor.metadata import get_store
from conveyor.results import ResultLiteral

N_RUNS = int(os.environ.get("BENCH_RUNS", "100000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "15"))
TARGET_MS = 150.0
FLOWS = [f"flow_{i}" for i in range(20)]
T0 = time.time() - N_RUNS * 3.0


def fill() -> None:
    """N_RUNS flow runs, every tenth a subflow run of the one before it."""
    store = get_store()
    literal = ResultLiteral(True).json()
    runs = []
    parent = None
    for i in range(N_RUNS):
        failed = i % 500 == 7
        created = T0 + i * 3.0
        run_id = str(uuid.uuid4())
        sub = i % 10 == 9
        runs.append((
            run_id, FLOWS[i % len(FLOWS)], parent if sub else None,
            "FAILED" if failed else "COMPLETED", "Failed" if failed else "Completed",
            "boom" if failed else None, created + 2, literal, created, created + 2, 1, created,
        ))
        parent = run_id
    with store.transaction() as conn:  # type: ignore[attr-defined]  # SQLite's own
        conn.executemany(
            "INSERT INTO flow_runs (id, flow_name, parent_flow_run_id, state_type, state_name, "
            "state_message, state_timestamp, state_data, start_time, end_time, run_count, "
            "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)


def median_ms(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def command(*argv: str):
    def go() -> None:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = cli(["runs", "ls", *argv])
        assert code == 0 and out.getvalue(), argv
    return go


def subprocess_ms(*argv: str, repeats: int = 7) -> float:
    def go() -> None:
        subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL)
    return median_ms(go, repeats)


def main() -> None:
    t = time.perf_counter()
    fill()
    print(f"store: {N_RUNS:,} flow runs ({N_RUNS // 10:,} of them subflow runs), filled in "
          f"{time.perf_counter() - t:.1f} s")
    cases = {
        "runs ls (newest 50)": (),
        "runs ls --json": ("--json",),
        "runs ls --flow flow_3": ("--flow", "flow_3"),
        "runs ls --state failed (rare)": ("--state", "failed"),
        "runs ls --since 2d": ("--since", "2d"),
        "runs ls --subflows": ("--subflows",),
        "runs ls --limit 500": ("--limit", "500"),
    }
    print(f"\nthe command in process, median of {REPEATS}:")
    figures = {}
    for name, argv in cases.items():
        ms = figures[name] = median_ms(command(*argv))
        print(f"  {name:<32} {ms:7.1f} ms   {'ok' if ms < TARGET_MS else 'OVER 150 ms'}")
    store = get_store()
    every = median_ms(lambda: store.read_flow_runs(), repeats=3)
    page = median_ms(lambda: store.read_flow_run_page(limit=50, top_level=True))
    print("\nraw store operations:")
    print(f"  keyset page of 50 (top level)    {page:7.2f} ms")
    print(f"  every run (what runs ls read)    {every:7.1f} ms   "
          f"({every / figures['runs ls (newest 50)']:.0f}x the command now)")
    floor = subprocess_ms("-c", "import conveyor.cli")
    whole = subprocess_ms("-m", "conveyor.cli", "runs", "ls")
    print("\nas a subprocess (interpreter start and imports included), median of 7:")
    print(f"  python -m conveyor.cli runs ls   {whole:7.1f} ms   "
          f"{'ok' if whole < TARGET_MS else 'OVER 150 ms'}")
    print(f"  python -c 'import conveyor.cli'  {floor:7.1f} ms   (the floor: "
          f"{whole - floor:.1f} ms is the command itself)")


if __name__ == "__main__":
    main()
