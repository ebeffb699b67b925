"""Hook implementations of conveyor-storage-s3."""

from __future__ import annotations

from conveyor import hookimpl

from conveyor_storage_s3.s3 import S3


@hookimpl
def conveyor_register_storage():
    return [S3]
