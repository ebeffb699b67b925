"""``DaskTaskRunner``: conveyor task runs on a Dask cluster.

With no ``address`` the runner starts a ``distributed.LocalCluster`` (``cluster_kwargs``
are its keyword arguments) on the flow run's first submitted task and closes it when the
flow run ends; with one it connects a ``Client`` to that existing scheduler.

The engine keeps each run's bookkeeping in the flow's process: states, retries, the
cache, reuse, write intents and references (:mod:`conveyor.engine.remote`). The runner
gets each attempt's :class:`~conveyor.engine.remote.RemoteCall` in ``submit_remote``
and submits it to the cluster (``pure=False``, a key naming the task, run and attempt):
a worker calls the function and writes a value to persist to the result storage there,
so only its checksum and size come back. No thread waits for a Dask future: a
:class:`~conveyor_runner_dask.collector.Collector` has their values fetched on the
client's event loop as they finish (``distributed.as_completed``).

``distributed`` is imported when a flow run first submits, not when conveyor loads its
plugins: a program that never uses Dask never pays its import.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Callable
from typing import Any

from conveyor.exceptions import ConfigurationError
from conveyor.task_runners import TaskRunner

from conveyor_runner_dask.collector import Collector, WorkerDied

#: Seconds to connect to a scheduler (or start a LocalCluster) and to close one.
CONNECT_TIMEOUT = 30.0
#: Threads of the flow's process that run task runs' bookkeeping, in short steps (none
#: waits for a Dask future: see conveyor.engine.remote_run).
DRIVER_THREADS = 4
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", ""}


def _local_host(address: str) -> bool:
    """Whether a scheduler address is on this machine (so its workers see our folders)."""
    import socket  # lazy: only a run that persists to a local folder asks (~10 ms at start-up)
    from urllib.parse import urlsplit  # lazy: as above

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme == "inproc":
        return True
    host = (parts.hostname or "").lower()
    if host in _LOOPBACK or host.startswith("127."):
        return True
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    if host in names:
        return True
    try:
        return host in {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return False


class DaskTaskRunner(TaskRunner):
    """Run submitted task runs on Dask workers.

    :param address: a scheduler's address (``"tcp://scheduler:8786"``); None starts a
        ``LocalCluster`` for each flow run.
    :param cluster_kwargs: keyword arguments of that ``LocalCluster`` (``n_workers``,
        ``threads_per_worker``, ``memory_limit``...); only without ``address``.
    :param shared_folders: with an ``address``, the workers see this machine's folders
        at the same paths (a shared file system), so a ``LocalFileSystem`` result
        storage is allowed; without it such a run is refused before any task runs.
    """

    name = "dask"
    remote = True

    def __init__(self, address: str | None = None, cluster_kwargs: dict[str, Any] | None = None,
                 *, shared_folders: bool = False) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ConfigurationError(
                f"DaskTaskRunner(address={address!r}): give a scheduler address such as "
                f"'tcp://scheduler:8786', or None to start a LocalCluster"
            )
        if address is not None and cluster_kwargs:
            raise ConfigurationError(
                "DaskTaskRunner: cluster_kwargs configure the LocalCluster it starts without an "
                "address; with address=... the cluster exists already: drop cluster_kwargs"
            )
        self.address = address.strip() if address else None
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.shared_folders = shared_folders
        self._lock = threading.Lock()
        self._cluster: Any = None
        self._client: Any = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._collector: Collector | None = None
        self._checked: set[int] = set()
        #: shut down without waiting while work was going on (a flow run's timeout): what
        #: that work still submits runs here (steps) or fails (calls), never restarting
        #: a client, until the next shutdown(wait=True)
        self._abandoned = False
        #: steps and calls submitted and not finished; shutdown(wait=True) waits for none
        self._outstanding = 0
        self._idle = threading.Condition()

    @classmethod
    def from_setting(cls, argument: str) -> DaskTaskRunner:
        """``dask`` (a LocalCluster per flow run) or ``dask:<scheduler address>``."""
        return cls(address=argument or None)

    def duplicate(self) -> DaskTaskRunner:
        return DaskTaskRunner(self.address, self.cluster_kwargs, shared_folders=self.shared_folders)

    # -- the driver's side ---------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of this flow run (started on first use)."""
        self._start()
        return self._client

    def _start(self) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pool
        if pool is not None:
            return pool
        with self._lock:
            if self._pool is None:
                import distributed  # lazy: only a flow run on Dask pays its import (~1 s)

                where = self.address or "a LocalCluster"
                try:
                    if self.address is None:
                        kwargs = {"processes": True, **self.cluster_kwargs}
                        self._cluster = distributed.LocalCluster(**kwargs)
                    self._client = distributed.Client(
                        self._cluster or self.address, timeout=CONNECT_TIMEOUT, set_as_default=False
                    )
                except Exception as exc:
                    self._close()
                    raise ConfigurationError(
                        f"DaskTaskRunner could not start a client of {where}: {type(exc).__name__}: "
                        f"{exc}; check that the scheduler is running and reachable (or the "
                        f"cluster_kwargs)"
                    ) from exc
                self._collector = Collector(self._client, self._done)
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    DRIVER_THREADS, thread_name_prefix="conveyor-dask"
                )
            return self._pool

    def _begin(self) -> None:
        with self._idle:
            self._outstanding += 1

    def _done(self) -> None:
        with self._idle:
            self._outstanding -= 1
            if self._outstanding == 0:
                self._idle.notify_all()

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        pool = None if self._abandoned else self._start()
        self._begin()
        run = contextvars.copy_context().run

        def step() -> Any:
            try:
                return run(fn)
            finally:
                self._done()

        try:
            if pool is None:
                raise RuntimeError("abandoned")
            return pool.submit(step)
        except RuntimeError:  # shut down without waiting (a flow run's timeout): run it here
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            try:
                future.set_result(step())
            except BaseException as exc:  # noqa: BLE001 - handed to the future
                future.set_exception(exc)
            return future

    def submit_later(self, delay: float, fn: Callable[[], Any]) -> None:
        """``fn`` submitted after ``delay`` seconds by a timer (no runner thread sleeps);
        counted as outstanding from now, so shutdown(wait=True) waits for it."""
        self._begin()

        def fire() -> None:
            try:
                self.submit(fn)
            finally:
                self._done()

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        timer.start()

    def submit_remote(self, call: Any) -> concurrent.futures.Future[Any]:
        if self._abandoned:
            raise RuntimeError(f"{call!r} not started: its flow run ended without waiting for its tasks")
        self._start()
        collector = self._collector
        if collector is None:
            raise RuntimeError(f"{call!r} not started: this DaskTaskRunner is shut down")
        self._begin()
        try:
            dask_future = self._client.submit(call, key=call.key, pure=False)
        except BaseException:
            self._done()
            raise
        return collector.watch(dask_future, call)

    def check_storage(self, storage: Any) -> None:
        if id(storage) in self._checked:
            return
        if getattr(storage, "block_type", None) == "local-file-system" and self.address is not None and (
            not self.shared_folders and not _local_host(self.address)
        ):
            raise ConfigurationError(
                f"results go to the local folder {storage.describe('')!r}, but the Dask workers of "
                f"{self.address} run on other machines and would write them to their own disks; "
                f"give the flow (or task) a result_storage every worker reaches, such as S3(...), "
                f"or DaskTaskRunner(..., shared_folders=True) if that folder is shared at the same path"
            )
        self._checked.add(id(storage))

    def shutdown(self, wait: bool = True) -> None:
        if wait:
            with self._idle:  # every step and call submitted, and the steps they queued
                self._idle.wait_for(lambda: self._outstanding == 0)
            self._abandoned = False
        elif self._outstanding:
            self._abandoned = True
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        collector = self._collector
        if collector is not None and not wait:
            collector.cancel_all()
        pool.shutdown(wait=wait)
        self._close()

    def _close(self) -> None:
        collector, self._collector = self._collector, None
        if collector is not None:
            collector.stop()
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        if client is not None:
            try:
                client.close(timeout=CONNECT_TIMEOUT)
            except Exception:  # noqa: BLE001,S110 - closing: nothing left to save
                pass
        if cluster is not None:
            try:
                cluster.close(timeout=CONNECT_TIMEOUT)
            except Exception:  # noqa: BLE001,S110
                pass

    def __repr__(self) -> str:
        if self.address is not None:
            return f"DaskTaskRunner(address={self.address!r})"
        return f"DaskTaskRunner(cluster_kwargs={self.cluster_kwargs!r})"


__all__ = ["CONNECT_TIMEOUT", "DRIVER_THREADS", "DaskTaskRunner"]
