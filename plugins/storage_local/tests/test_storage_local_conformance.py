"""LocalFileSystem passes the storage conformance suite shipped by conveyor."""

from __future__ import annotations

from pathlib import Path

import pytest
from conveyor.testing.storage import StorageBlockConformance
from conveyor_storage_local import LocalFileSystem


class TestLocalFileSystemConformance(StorageBlockConformance):
    @pytest.fixture
    def storage_block(self, tmp_path: Path) -> LocalFileSystem:
        return LocalFileSystem(basepath=str(tmp_path / "store"))
