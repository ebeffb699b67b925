"""Test support of conveyor-storage-s3: real S3 servers on 127.0.0.1 (SeaweedFS, moto).

- :mod:`conveyor_storage_s3.testing.servers`: :func:`start_seaweedfs` and
  :func:`start_moto`, context managers yielding a running :class:`S3Server` (tests and
  benchmarks). Imports the standard library, attrs and :mod:`conveyor_storage_s3.s3`;
  boto3 and moto only when a server starts.
- :mod:`conveyor_storage_s3.testing.fixtures`: a pytest plugin with the fixtures built on
  them (``s3_server``, ``s3_bucket``, ``s3_block``, ``seaweedfs_server``, ...). Imports
  pytest and ``servers``.

This package itself re-exports the names of ``servers`` (not the fixtures: importing it
does not need pytest).
"""

from conveyor_storage_s3.testing.servers import (
    GRPC_OFFSET,
    PORT_RANGE,
    REGION,
    START_TIMEOUT,
    STOP_TIMEOUT,
    S3Server,
    S3ServerError,
    find_weed,
    free_ports,
    seaweedfs_sockets,
    start_moto,
    start_seaweedfs,
)

__all__ = [
    "GRPC_OFFSET",
    "PORT_RANGE",
    "REGION",
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "S3Server",
    "S3ServerError",
    "find_weed",
    "free_ports",
    "seaweedfs_sockets",
    "start_moto",
    "start_seaweedfs",
]
