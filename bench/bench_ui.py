"""``conveyor ui`` benchmarks: figures and ratios, printed (no assertion on time).

With 100,000 flow runs in the store (target: each page under 200 ms on this machine):

1. the runs page: the first page, the last page (a keyset page from the oldest end),
   filtered by flow, by a rare state and by a date range; against the raw keyset query
   and against ``LIMIT 50 OFFSET 99,950`` (what paging by offset would cost);
2. the page of one run of 2,000 task runs (HTML and JSON), against reading its rows.

Each figure is the median of REPEATS requests through Starlette's test client (in this
process), then the same pages over HTTP from ``conveyor ui`` (uvicorn) in a process of
its own. The store is filled with direct ``executemany`` inserts (a real result
reference, written once, is what every task run holds).

Run: ``.venv/bin/python bench/bench_ui.py`` (a temporary CONVEYOR_HOME is used).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="conveyor-bench-ui-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
os.environ["CONVEYOR_HOME"] = str(WORK / "home")
os.environ["CONVEYOR_LOCAL_STORAGE_PATH"] = str(WORK / "results")
os.environ.setdefault("CONVEYOR_LOGGING_LEVEL", "WARNING")

from conveyor.filesystems import default_storage
from conveyor.metadata import get_store
from conveyor.results import persist_value
from conveyor.serializers import resolve_serializer
from conveyor.ui.app import create_app
from conveyor.ui.config import UIConfig
from starlette.testclient import TestClient

N_RUNS = int(os.environ.get("BENCH_RUNS", "100000"))
N_TASKS = int(os.environ.get("BENCH_TASKS", "2000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "15"))
FLOWS = [f"flow_{i}" for i in range(20)]
T0 = 1_700_000_000.0


def fill() -> str:
    """100,000 flow runs (1 in 500 failed), one of them with 2,000 task runs; its id."""
    store = get_store()
    ref = persist_value({"rows": list(range(100))}, storage=default_storage(),
                        serializer=resolve_serializer("json")).json()
    runs = []
    for i in range(N_RUNS):
        failed = i % 500 == 7
        created = T0 + i * 3.0
        runs.append((
            f"run-{i:07d}", FLOWS[i % len(FLOWS)], "FAILED" if failed else "COMPLETED",
            "Failed" if failed else "Completed", "boom" if failed else "result persisted: rule 1",
            created + 2, ref, created, created + 2, 1, created,
        ))
    big = runs[-1][0]
    tasks = []
    for j in range(N_TASKS):
        start = T0 + (N_RUNS - 1) * 3.0 + j * 0.001
        tasks.append((
            f"task-{j:05d}", f"task_{j % 7}", big, "COMPLETED", "Completed",
            "result persisted: persist_result=True on task (rule 1)", start + 0.0005, ref,
            start, start + 0.0005, 1, start, j // 7,
        ))
    with store.transaction() as conn:  # type: ignore[attr-defined]  # SQLite's own
        conn.executemany(
            "INSERT INTO flow_runs (id, flow_name, state_type, state_name, state_message, "
            "state_timestamp, state_data, start_time, end_time, run_count, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
        conn.executemany(
            "INSERT INTO task_runs (id, task_name, flow_run_id, state_type, state_name, "
            "state_message, state_timestamp, state_data, start_time, end_time, run_count, "
            "created, call_position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tasks)
    return big


def median_ms(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def page_timer(get, path: str):
    def go() -> None:
        response = get(path)
        assert response[0] == 200, (path, response[0])
    return go


def main() -> None:
    t = time.perf_counter()
    big = fill()
    print(f"store: {N_RUNS:,} flow runs, one of {N_TASKS:,} task runs, filled in "
          f"{time.perf_counter() - t:.1f} s")
    store = get_store()
    last_cursor = f"{T0 + 49 * 3.0!r}~run-{49:07d}"  # the page just older than this: the last
    day = time.strftime("%Y-%m-%d", time.localtime(T0 + N_RUNS * 1.5))
    pages = {
        "runs: first page": "/",
        "runs: last page (keyset)": f"/?newer={last_cursor}",
        "runs: flow filter": "/?flow=flow_3",
        "runs: rare state (FAILED)": "/?state=FAILED",
        "runs: one day": f"/?since={day}&until={day}",
        f"run of {N_TASKS:,} tasks (HTML)": f"/runs/{big}",
        f"run of {N_TASKS:,} tasks (JSON)": f"/runs/{big}?format=json",
        "run: one task's next 200 (HTML)": f"/runs/{big}?task=task_3&start=50",
    }
    client = TestClient(create_app(UIConfig()), base_url="http://127.0.0.1:4200")

    def in_process(path: str) -> tuple[int, bytes]:
        r = client.get(path)
        return r.status_code, r.content

    figures = {name: median_ms(page_timer(in_process, path)) for name, path in pages.items()}

    raw_keyset = median_ms(lambda: store.read_flow_run_page(limit=50))
    raw_offset = median_ms(lambda: store.query(  # type: ignore[attr-defined]
        "SELECT * FROM flow_runs ORDER BY created DESC, id DESC LIMIT 50 OFFSET ?", (N_RUNS - 50,)))
    raw_last = median_ms(lambda: store.read_flow_run_page(cursor=last_cursor, newer=True, limit=50))
    raw_tasks = median_ms(lambda: store.read_task_runs(big))

    print(f"\nin process (Starlette test client), median of {REPEATS}:")
    for name, ms in figures.items():
        print(f"  {name:<32} {ms:7.1f} ms   {'ok' if ms < 200 else 'OVER 200 ms'}")
    print("\nraw store operations:")
    print(f"  keyset page, first              {raw_keyset:7.2f} ms")
    print(f"  keyset page, last               {raw_last:7.2f} ms")
    print(f"  OFFSET {N_RUNS - 50:,} page             {raw_offset:7.2f} ms   "
          f"({raw_offset / raw_last:.0f}x the keyset page)")
    print(f"  read {N_TASKS:,} task runs            {raw_tasks:7.2f} ms   "
          f"(the run page costs {figures[f'run of {N_TASKS:,} tasks (HTML)'] / raw_tasks:.1f}x)")
    print(f"  runs page / raw keyset          {figures['runs: first page'] / raw_keyset:7.1f}x")

    over_http(pages)


def over_http(pages: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "conveyor.cli", "ui", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/static/ui.css", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"conveyor ui did not start: {proc.stderr.read()!r}") from None
                time.sleep(0.05)

        def http_get(path: str) -> tuple[int, bytes]:
            with urllib.request.urlopen(base + path, timeout=30) as r:
                return r.status, r.read()

        print(f"\nover HTTP (conveyor ui, uvicorn, its own process), median of {REPEATS}:")
        for name, path in pages.items():
            ms = median_ms(page_timer(http_get, path))
            size = len(http_get(path)[1])
            print(f"  {name:<32} {ms:7.1f} ms   {size / 1024:7.0f} KiB   "
                  f"{'ok' if ms < 200 else 'OVER 200 ms'}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
