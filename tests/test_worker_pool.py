"""WorkerPool, the thread pool of ThreadPoolTaskRunner: every call runs once and hands
its value or exception to its future, at most max_workers threads, queued calls still
run at shutdown, and a process exits even with a pool nobody shut down."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import threading
import time

import pytest

from conveyor.runners.pool import WorkerPool, default_workers


def test_every_call_runs_once_and_its_future_has_its_outcome() -> None:
    pool = WorkerPool(4)
    futures = [pool.submit(lambda i=i: i * i) for i in range(500)]

    def boom() -> None:
        raise ValueError("no")

    failing = pool.submit(boom)
    assert [f.result(timeout=30) for f in futures] == [i * i for i in range(500)]
    with pytest.raises(ValueError, match="no"):
        failing.result(timeout=30)
    done, _ = concurrent.futures.wait(futures, timeout=30)  # plain concurrent futures
    assert len(done) == 500
    pool.shutdown()


def test_at_most_max_workers_threads() -> None:
    pool = WorkerPool(3)
    running: list[str] = []
    gate = threading.Event()

    def hold() -> str:
        running.append(threading.current_thread().name)
        gate.wait(30)
        return threading.current_thread().name

    futures = [pool.submit(hold) for _ in range(10)]
    deadline = time.monotonic() + 10
    while len(running) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert len(running) == 3  # three threads busy, seven calls queued
    gate.set()
    names = {f.result(timeout=30) for f in futures}
    assert len(names) == 3 and all(n.startswith("conveyor-task_") for n in names)
    pool.shutdown()

    one = WorkerPool(1)
    for i in range(20):  # one call at a time: never a second thread
        assert one.submit(lambda i=i: i).result(timeout=30) == i
    assert len(one._threads) == 1
    one.shutdown()
    assert default_workers() >= 5


def test_shutdown_lets_queued_calls_run_and_refuses_new_ones() -> None:
    pool = WorkerPool(1)
    gate = threading.Event()
    first = pool.submit(lambda: gate.wait(30))
    queued = [pool.submit(lambda i=i: i) for i in range(5)]
    pool.shutdown(wait=False)
    gate.set()
    assert first.result(timeout=30) is True and [f.result(timeout=30) for f in queued] == list(range(5))
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(lambda: 1)


def test_submitting_from_many_threads_at_once() -> None:
    pool = WorkerPool(4)
    results: list[int] = []
    lock = threading.Lock()

    def producer(base: int) -> None:
        futures = [pool.submit(lambda v=base + i: v) for i in range(200)]
        values = [f.result(timeout=30) for f in futures]
        with lock:
            results.extend(values)

    threads = [threading.Thread(target=producer, args=(k * 1000,)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == sorted(k * 1000 + i for k in range(5) for i in range(200))
    pool.shutdown()


def test_a_process_exits_with_a_pool_nobody_shut_down() -> None:
    code = (
        "import time\n"
        "from conveyor.runners.pool import WorkerPool\n"
        "pool = WorkerPool(2)\n"
        "pool.submit(lambda: time.sleep(0.2))\n"
        "f = pool.submit(lambda: print('ran', flush=True))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ran"  # queued calls ran, then it exited


def test_threads_finish_calls_while_a_submitter_holds_the_pools_lock() -> None:
    # The lock is the submitters' (against shutdown); a thread done with a call takes
    # none, so a submitter preempted while holding it stalls no thread.
    pool = WorkerPool(2)
    futures = [pool.submit(lambda i=i: i) for i in range(50)]
    with pool._lock:
        done, pending = concurrent.futures.wait(futures, timeout=10)
    assert not pending and sorted(f.result() for f in done) == list(range(50))
    pool.shutdown()
