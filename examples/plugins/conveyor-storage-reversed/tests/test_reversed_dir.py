"""conveyor's storage conformance suite, run against ReversedDir (installed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conveyor.filesystems import StorageBlock
from conveyor.testing.storage import StorageBlockConformance
from conveyor_storage_reversed import ReversedDir


class TestReversedDir(StorageBlockConformance):
    supports_delete = False  # only write_path and read_path are defined
    supports_listing = False

    @pytest.fixture
    def storage_block(self, tmp_path: Path) -> StorageBlock:
        return ReversedDir(root=str(tmp_path / "store"))


def test_bytes_are_stored_reversed(tmp_path: Path) -> None:
    block = ReversedDir(root=str(tmp_path))
    block.write_path("a/b", b"hello")
    assert (tmp_path / "a" / "b").read_bytes() == b"olleh"
