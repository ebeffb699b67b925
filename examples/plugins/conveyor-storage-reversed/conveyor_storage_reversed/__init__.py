"""Example conveyor storage plugin: files under a folder, bytes stored reversed."""

from conveyor_storage_reversed.reversed_dir import ReversedDir

__all__ = ["ReversedDir"]
