"""Collecting finished Dask futures in batches, so no thread waits for one.

Asking each ``distributed.Future`` for its result costs a round trip to the scheduler and
a worker (and, with thousands of runs, most of the time goes there). A :class:`Collector`
instead hands every future to one ``distributed.as_completed``; its one thread takes the
finished ones in batches, fetches the values of a whole batch with one ``gather`` (as a
raw ``client.gather`` of many futures does), and completes the
``concurrent.futures.Future`` the engine holds for each call. A worker that died running
the call (``KilledWorker``) becomes :class:`WorkerDied`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from conveyor.exceptions import ConveyorError

log = logging.getLogger("conveyor.runner.dask")

#: Seconds to wait for the exception of a future that erred (the scheduler has it).
EXCEPTION_TIMEOUT = 60.0

Item = tuple[Any, "concurrent.futures.Future[Any]", Any]


class WorkerDied(ConveyorError):
    """The Dask worker running a task run's call died (and Dask would not try it again)."""


def worker_died(call: Any, exc: BaseException) -> WorkerDied:
    return WorkerDied(
        f"task {call.name!r} run {call.run_id} (attempt {call.attempt}): the Dask worker "
        f"running it died and Dask stopped trying ({exc}); nothing of that attempt was "
        f"recorded; read the worker's log (memory limit? a crash?) or give the task retries"
    )


class Collector:
    """Completes one concurrent future per Dask future, as each finishes.

    :param client: the ``distributed.Client`` the futures belong to.
    :param settled: called once per future after its concurrent future is completed
        (the runner counts outstanding work with it).
    """

    def __init__(self, client: Any, settled: Callable[[], None]) -> None:
        from distributed import as_completed  # lazy: the runner imported distributed already

        self.client = client
        self.settled = settled
        #: the futures, handed out as they finish (their values are gathered by batch)
        self.finished = as_completed(loop=client.loop)
        self.watched: dict[str, Item] = {}
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="conveyor-dask-collector", daemon=True)
        self.thread.start()

    def watch(self, dask_future: Any, call: Any) -> concurrent.futures.Future[Any]:
        """A concurrent future of ``dask_future``'s value (``call`` names it in errors)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.watched[dask_future.key] = (dask_future, future, call)
        self.finished.add(dask_future)
        self.wake.set()
        return future

    def cancel_all(self) -> None:
        """Cancel every call not finished (a flow run that ends without waiting)."""
        pending = [item[0] for item in list(self.watched.values())]
        if pending:
            try:
                self.client.cancel(pending)
            except Exception:  # noqa: BLE001 - the client may be closing already
                log.debug("cancelling %d Dask futures failed", len(pending), exc_info=True)

    def stop(self) -> None:
        """Stop the thread; a call still watched (its client is closing) is cancelled."""
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout=EXCEPTION_TIMEOUT)
        for _dask, future, call in list(self.watched.values()):
            if not future.done():
                future.set_exception(concurrent.futures.CancelledError(f"{call!r}: its Dask client was closed"))
                self.settled()
        self.watched.clear()

    # -- the collector's thread ------------------------------------------------------------

    def _run(self) -> None:
        finished = self.finished
        while not self.stopping:
            if finished.is_empty():
                self.wake.wait(0.1)
                self.wake.clear()
                continue
            try:
                batch = finished.next_batch(block=True)  # waits in steps of 0.1 s
            except StopIteration:
                continue
            for dask_future, result in self._results(batch):
                item = self.watched.pop(dask_future.key, None)
                if item is None:
                    continue  # settled by stop() already
                try:
                    self._settle(item, result)
                except BaseException as exc:  # noqa: BLE001 - never leave a future pending
                    if not item[1].done():
                        item[1].set_exception(exc)
                finally:
                    with contextlib.suppress(Exception):  # the client may be closing already
                        dask_future.release()
                    self.settled()

    def _results(self, batch: list[Any]) -> list[tuple[Any, Any]]:
        """``(future, value or exception)`` of each finished future: the values of those that
        finished well in one ``gather``; an error's exception asked of its future."""
        finished = [f for f in batch if f.status == "finished"]
        values: dict[str, Any] = {}
        if finished:
            try:
                values = dict(zip([f.key for f in finished], self.client.gather(finished)))
            except Exception:  # noqa: BLE001 - one was lost meanwhile: each on its own below
                values = {}
        out = []
        for f in batch:
            if f.key in values:
                out.append((f, values[f.key]))
                continue
            try:
                out.append((f, f.result(timeout=EXCEPTION_TIMEOUT) if f.status == "finished"
                            else f.exception(timeout=EXCEPTION_TIMEOUT)))
            except BaseException as exc:  # noqa: BLE001 - the future's own failure
                out.append((f, exc))
        return out

    def _settle(self, item: Item, result: Any) -> None:
        from distributed import KilledWorker  # lazy: the runner imported it already

        dask_future, future, call = item
        status = dask_future.status
        if status == "finished":
            future.set_result(result)
        elif status == "error":
            exc = result[1] if isinstance(result, tuple) and len(result) == 3 else result
            future.set_exception(worker_died(call, exc) if isinstance(exc, KilledWorker) else exc)
        else:  # cancelled, or lost with its client
            future.set_exception(concurrent.futures.CancelledError(f"{call!r} was cancelled ({status})"))


__all__ = ["EXCEPTION_TIMEOUT", "Collector", "WorkerDied", "worker_died"]
