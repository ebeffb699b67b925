"""Fixtures of the Dask runner's tests: one real 2-worker LocalCluster for the session.

The cluster is started by the tests themselves (worker processes, small memory limits)
and always closed. ``allowed-failures`` is 1: a call whose worker dies is tried on one
more worker, then fails with KilledWorker (the tests that kill workers rely on it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    import dask
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, memory_limit="512MiB",
            dashboard_address=None, host="127.0.0.1",
        )
    try:
        yield cluster
    finally:
        cluster.close(timeout=30)


@pytest.fixture
def dask_runner(dask_cluster: Any) -> Any:
    from conveyor.task_runners import DaskTaskRunner

    return DaskTaskRunner(address=dask_cluster.scheduler_address)


@pytest.fixture(params=["threads", "dask", "dask-postgres"])
def runner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each runner in turn: the same test runs on threads and on the Dask cluster, and on
    the cluster with its metadata in PostgreSQL (``CONVEYOR_DATABASE_URL``, a fresh schema
    of a real server): the whole cluster set-up of docs/scale-out.md."""
    from conveyor.task_runners import ThreadPoolTaskRunner

    if request.param == "threads":
        return ThreadPoolTaskRunner()
    if request.param == "dask-postgres":
        monkeypatch.setenv("CONVEYOR_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return request.getfixturevalue("dask_runner")


@pytest.fixture
def s3_results(request: pytest.FixtureRequest, seaweedfs_server: Any, seaweedfs_bucket: str) -> Any:
    """An S3 block on a fresh SeaweedFS bucket, saved as ``s3/prod`` (in the test's metadata
    store: after ``runner`` has chosen it)."""
    if "runner" in request.fixturenames:
        request.getfixturevalue("runner")
    block = seaweedfs_server.block(f"{seaweedfs_bucket}/results")
    block.save("prod", overwrite=True)
    return block
