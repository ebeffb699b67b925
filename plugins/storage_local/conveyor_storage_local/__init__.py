"""Local folder storage for conveyor results."""

from conveyor_storage_local.local import LocalFileSystem

__all__ = ["LocalFileSystem"]
