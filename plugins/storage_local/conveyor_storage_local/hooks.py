"""Hook implementations of conveyor-storage-local."""

from __future__ import annotations

from conveyor import hookimpl

from conveyor_storage_local.local import LocalFileSystem


@hookimpl
def conveyor_register_storage():
    return [LocalFileSystem]
