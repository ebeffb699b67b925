"""Collecting finished Dask futures in batches, so no thread waits for one.

Asking each ``distributed.Future`` for its result costs a round trip through the
client's event loop (and, with thousands of runs, most of the time goes there). A
:class:`Collector` instead has each future's done-callback put it in a queue; its one
thread takes every future that finished meanwhile and fetches their values with one
``client.gather``, then completes the ``concurrent.futures.Future`` the engine holds
for each call. An errored future's exception is asked for alone (errors are rare); a
worker that died running the call (``KilledWorker``) becomes :class:`WorkerDied`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from conveyor.exceptions import ConveyorError

log = logging.getLogger("conveyor.runner.dask")

_STOP = object()
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
    """Completes one concurrent future per Dask future, gathering finished ones in batches.

    :param client: the ``distributed.Client`` the futures belong to.
    :param settled: called once per future after its concurrent future is completed
        (the runner counts outstanding work with it).
    """

    def __init__(self, client: Any, settled: Callable[[], None]) -> None:
        self.client = client
        self.settled = settled
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.watched: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._run, name="conveyor-dask-collector", daemon=True)
        self.thread.start()

    def watch(self, dask_future: Any, call: Any) -> concurrent.futures.Future[Any]:
        """A concurrent future of ``dask_future``'s value (``call`` names it in errors)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.watched[dask_future.key] = (dask_future, future, call)
        put = self.queue.put
        dask_future.add_done_callback(lambda done: put((done, future, call)))
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
        self.queue.put(_STOP)
        self.thread.join(timeout=EXCEPTION_TIMEOUT)
        for _dask, future, call in list(self.watched.values()):
            if not future.done():
                future.set_exception(concurrent.futures.CancelledError(f"{call!r}: its Dask client was closed"))
                self.settled()
        self.watched.clear()

    # -- the collector's thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            batch: list[Item] = []
            stop = item is _STOP
            if not stop:
                batch.append(item)
            while True:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                else:
                    batch.append(more)
            if batch:
                try:
                    self._settle(batch)
                except BaseException as exc:  # noqa: BLE001 - never leave a future pending
                    for _dask, future, _call in batch:
                        if not future.done():
                            future.set_exception(exc)
                    self._release(batch)
            if stop:
                return

    def _settle(self, batch: list[Item]) -> None:
        finished = [item for item in batch if item[0].status == "finished"]
        others = [item for item in batch if item[0].status != "finished"]
        if finished:
            try:
                values = self.client.gather([item[0] for item in finished])
            except Exception:  # noqa: BLE001 - one of them lost its data: ask each alone
                for item in finished:
                    self._one(item)
            else:
                for (_dask, future, _call), value in zip(finished, values, strict=True):
                    future.set_result(value)
        for item in others:
            self._one(item)
        self._release(batch)

    def _one(self, item: Item) -> None:
        from distributed import KilledWorker  # lazy: the runner imported it already

        dask_future, future, call = item
        if dask_future.status == "cancelled":
            future.set_exception(concurrent.futures.CancelledError(f"{call!r} was cancelled"))
            return
        try:
            future.set_result(dask_future.result(timeout=EXCEPTION_TIMEOUT))
        except KilledWorker as exc:
            future.set_exception(worker_died(call, exc))
        except BaseException as exc:  # noqa: BLE001 - the call's own exception, handed on
            future.set_exception(exc)

    def _release(self, batch: list[Item]) -> None:
        for dask_future, _future, _call in batch:
            if self.watched.pop(dask_future.key, None) is None:
                continue  # settled by stop() already
            try:
                dask_future.release()
            except Exception:  # noqa: BLE001 - the client may be closing already
                pass
            self.settled()


__all__ = ["EXCEPTION_TIMEOUT", "Collector", "WorkerDied", "worker_died"]
