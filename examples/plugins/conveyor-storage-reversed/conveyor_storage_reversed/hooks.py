"""Hook implementations of conveyor-storage-reversed (the entry point's target)."""

from __future__ import annotations

from conveyor import hookimpl
from conveyor.filesystems import StorageBlock

from conveyor_storage_reversed.reversed_dir import ReversedDir


@hookimpl
def conveyor_register_storage() -> list[type[StorageBlock]]:
    return [ReversedDir]
