"""A real metadata store for the ``conveyor ui`` tests, made by running real flows.

Loaded by path from the ``tests/test_ui_*.py`` files (tests/ is not a package). One call
of :func:`build` runs the flows below under a fresh ``CONVEYOR_HOME`` and returns what
the tests look up: run ids by role, the home and result folders.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conveyor import flow, get_client, task
from conveyor.ui.app import create_app
from conveyor.ui.config import UIConfig
from starlette.testclient import TestClient

FAIL = {"flaky": True}


@task(result_serializer="json", persist_result=True)
def make_table(n: int) -> dict[str, Any]:
    return {"rows": n, "names": [f"row-{i}" for i in range(n)], "note": "<b>not markup</b>"}


@task(persist_result=True)
def pickled(n: int) -> list[int]:
    return list(range(n))


@task(result_serializer="compressed/json", persist_result=True)
def compressed(n: int) -> dict[str, Any]:
    return {"compressed": True, "values": list(range(n))}


@task
def literal_true() -> bool:
    return True


@task
def literal_none() -> None:
    return None


@task(persist_result=False)
def in_memory(n: int) -> int:
    return n * 2


@task(persist_result=False)
def summarize(table: dict[str, Any]) -> int:
    return len(table)


@task(persist_result=True)
def explode() -> None:
    raise ValueError("the input was bad")


@task(cache_key_fn=lambda _ctx, args: f"cache-{args['n']}", persist_result=True)
def cached_sum(n: int) -> int:
    return n + 1000


@flow
def innermost(n: int) -> int:
    return in_memory(n)


@flow(persist_result=True)
def inner(n: int) -> dict[str, Any]:
    innermost(n)
    return make_table(n)


@flow(persist_result=True)
def report(n: int = 3) -> dict[str, Any]:
    table = make_table(n)
    make_table(n + 1)
    summarize(table)  # its inputs' lineage names the first make_table run
    pickled(n)
    compressed(n)
    literal_true()
    literal_none()
    in_memory(n)
    cached_sum(n)
    cached_sum(n)  # a cache hit: Cached
    try:
        explode()
    except ValueError:
        pass
    inner(2)
    return table


@task(persist_result=True, result_serializer="json")
def step(i: int) -> dict[str, int]:
    return {"step": i}


@task
def flaky() -> int:
    if FAIL["flaky"]:
        raise RuntimeError("flaky failed the first time")
    return 1


@flow(persist_result=True)
def resumable() -> list[Any]:
    out = [step(1), step(2)]
    flaky()
    return out


@flow
def broken() -> None:
    raise KeyError("nothing here")


def build(root: Path) -> dict[str, Any]:
    """Run the flows under ``root``; return ids by role, ``home`` and ``results``."""
    home, results = root / "home", root / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONVEYOR_HOME", str(home))
        mp.setenv("CONVEYOR_LOCAL_STORAGE_PATH", str(results))
        for var in ("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "CONVEYOR_RESULTS_PERSIST_BY_DEFAULT"):
            mp.delenv(var, raising=False)
        report_state = report(3, return_state=True)
        broken_state = broken(return_state=True)
        FAIL["flaky"] = True
        first = resumable(return_state=True)
        FAIL["flaky"] = False
        second = resumable.resume(first.run_id, return_state=True)
        client = get_client()
        client.store.flush()
        all_tasks = client.read_task_runs(report_state.run_id)
        tasks: dict[str, Any] = {}
        for t in all_tasks:  # the first task run of each task
            tasks.setdefault(t.task_name, t)
        subflow = client.read_subflow_runs(report_state.run_id)[0]
    return {
        "home": home,
        "results": results,
        "report": report_state.run_id,
        "broken": broken_state.run_id,
        "failed_first": first.run_id,
        "resumed": second.run_id,
        "subflow": subflow.id,
        "tasks": {name: t.id for name, t in tasks.items()},
        "cached": [t.id for t in all_tasks if t.state.name == "Cached"],
        "task_count": len(all_tasks),
    }


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The store of :func:`build`, made once per test module."""
    return build(tmp_path_factory.mktemp("ui-store"))


@pytest.fixture
def ui_client(ui_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Starlette test client of ``conveyor ui`` over :func:`ui_store` (no token)."""
    monkeypatch.setenv("CONVEYOR_HOME", str(ui_store["home"]))
    monkeypatch.setenv("CONVEYOR_LOCAL_STORAGE_PATH", str(ui_store["results"]))
    return TestClient(create_app(UIConfig()), base_url="http://127.0.0.1:4200")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(store: dict[str, Any], *args: str, timeout: float = 30.0) -> Iterator[tuple[str, str]]:
    """``conveyor ui`` run for real (uvicorn, a process of its own) over ``store``.

    Yields ``(base address, the first line it printed)``; stops the process afterwards.
    """
    port = free_port()
    env = {**os.environ, "CONVEYOR_HOME": str(store["home"]),
           "CONVEYOR_LOCAL_STORAGE_PATH": str(store["results"])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "ui", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read() if proc.stderr else ""
                    raise AssertionError(f"conveyor ui did not start: {first!r} {err!r}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", first
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
