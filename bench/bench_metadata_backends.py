"""Per-task recording cost on PostgreSQL against SQLite.

    .venv/bin/python bench/bench_metadata_backends.py [--tasks 3000] [--repeat 3]

A PostgreSQL 16 is started with ``pgserver`` (the test dependency; Unix socket, on this
machine) and a SQLite file is made in a temporary folder. For each backend, three figures,
each the best of ``--repeat`` runs on a fresh database (schema made before timing):

- ``raw``: the limit: the same rows (a task run in its final state and its two state
  rows) committed by hand in batches of 2,000, as the writer does, the fastest way the
  driver has (SQLite: ``executemany``; PostgreSQL: ``COPY``); what recording could cost
  at the least.
- ``writer``: the store's own path: ``create_task_run`` + ``set_state`` (Running, then
  Completed) through the shared batched writer, then ``flush``: the per-task cost of
  recording, queueing and committing included.
- ``flow``: a flow of ``--tasks`` trivial tasks run by the engine, per task (the whole
  engine: most of it is not the database; the writer commits in the background).

Printed: microseconds per task for each, the ratio PostgreSQL / SQLite of each, and each
backend's writer against its raw limit.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "core"), str(REPO / "plugins" / "metadata_postgres")]

from conveyor import flow, task  # noqa: E402
from conveyor.metadata import get_store  # noqa: E402
from conveyor.metadata.sqlite_writes import STATEMENTS  # noqa: E402
from conveyor_metadata_postgres import PostgresStore  # noqa: E402
from conveyor_metadata_postgres.writes import COPY_STATEMENTS  # noqa: E402
from conveyor_metadata_postgres.testing import start_postgres  # noqa: E402

RUNNING = ("RUNNING", "Running", None, 1.0, None)
DONE = ("COMPLETED", "Completed", None, 2.0, "true")


def rows(n: int, tag: str) -> tuple[list[list[object]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    tasks = [[f"{tag}-{i}", "step", "f", None, *DONE, 1.0, 2.0, 1, 1.0, i, None, 1, None, None, None]
             for i in range(n)]
    states = [(f"{tag}-{i}", "task", *s) for i in range(n) for s in (RUNNING, DONE)]
    return tasks, states, []


def raw_sqlite(path: Path, n: int) -> float:
    tasks, states, _ = rows(n, "raw")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    start = time.perf_counter()
    for i in range(0, n, 2000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(STATEMENTS[1][0], tasks[i:i + 2000])
        conn.executemany(STATEMENTS[2][0], states[2 * i:2 * i + 4000])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def raw_postgres(url: str, n: int) -> float:
    import psycopg

    tasks, states, _ = rows(n, "raw")
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        for i in range(0, n, 2000):
            with conn.transaction(), conn.cursor() as cur:
                for name, part in (("tasks", tasks[i:i + 2000]), ("states", states[2 * i:2 * i + 4000])):
                    with cur.copy(COPY_STATEMENTS[name]) as copy:
                        for row in part:
                            copy.write_row(row)
        return time.perf_counter() - start


def writer(store: object, n: int) -> float:
    w = store.writer  # type: ignore[attr-defined]
    start = time.perf_counter()
    for i in range(n):
        w.create_task_run(f"w-{i}", "step", "f", None, RUNNING, 1.0, 1)
        w.set_state("task", f"w-{i}", DONE, 1.0, 2.0, 1)
    w.flush()
    return time.perf_counter() - start


@task
def step(i: int) -> int:
    return i


@flow(name="bench-metadata")
def many(n: int) -> int:
    return sum(step(i) for i in range(n))


def engine(location: str, n: int) -> float:
    os.environ["CONVEYOR_DATABASE_URL"] = location
    try:
        get_store().list_blocks()  # schema made before timing
        many(10)  # warm: first-call costs are not per task
        start = time.perf_counter()
        many(n)
        get_store().flush()
        return time.perf_counter() - start
    finally:
        del os.environ["CONVEYOR_DATABASE_URL"]


def best(repeat: int, fn: Callable[[int], float]) -> float:
    return min(fn(k) for k in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.tasks
    os.environ.setdefault("CONVEYOR_LOGGING_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory() as tmp, start_postgres() as server:
        os.environ["CONVEYOR_HOME"] = tmp
        os.environ["CONVEYOR_LOCAL_STORAGE_PATH"] = str(Path(tmp) / "results")

        def sqlite_url(k: int, what: str) -> str:
            return f"sqlite://{tmp}/{what}-{k}.db"

        def fresh_pg(k: int, what: str) -> str:
            return server.fresh_schema(f"{what}_{k}")

        def sqlite_writer(k: int) -> float:
            store = get_store(sqlite_url(k, "writer"))
            store.list_blocks()
            return writer(store, n)

        def pg_writer(k: int) -> float:
            store = PostgresStore(fresh_pg(k, "writer"))
            store.list_blocks()
            return writer(store, n)

        def sqlite_raw(k: int) -> float:
            get_store(sqlite_url(k, "raw")).list_blocks()
            return raw_sqlite(Path(tmp) / f"raw-{k}.db", n)

        def pg_raw(k: int) -> float:
            url = fresh_pg(k, "raw")
            PostgresStore(url).list_blocks()
            return raw_postgres(url, n)

        figures = {
            "raw": (best(args.repeat, sqlite_raw), best(args.repeat, pg_raw)),
            "writer": (best(args.repeat, sqlite_writer), best(args.repeat, pg_writer)),
            "flow": (best(args.repeat, lambda k: engine(sqlite_url(k, "flow"), n)),
                     best(args.repeat, lambda k: engine(fresh_pg(k, "flow"), n))),
        }
    print(f"per-task recording cost, {n} tasks, best of {args.repeat} "
          f"(PostgreSQL 16 from pgserver on a Unix socket of this machine)")
    print(f"{'':8} {'SQLite µs/task':>15} {'PostgreSQL µs/task':>19} {'PG / SQLite':>12}")
    for name, (lite, pg) in figures.items():
        print(f"{name:8} {lite / n * 1e6:15.1f} {pg / n * 1e6:19.1f} {pg / lite:11.2f}x")
    (lraw, praw), (lw, pw) = figures["raw"], figures["writer"]
    print(f"writer against the raw limit: SQLite {lw / lraw:.2f}x, PostgreSQL {pw / praw:.2f}x")


if __name__ == "__main__":
    main()
