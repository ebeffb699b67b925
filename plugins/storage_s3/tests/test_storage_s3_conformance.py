"""S3 passes the storage conformance suite against two real servers on 127.0.0.1.

``s3_block`` (from ``conveyor_storage_s3.testing.fixtures``) is parametrized over
SeaweedFS and moto's server mode, so every test runs once on each.
"""

from __future__ import annotations

import pytest
from conveyor.testing.storage import StorageBlockConformance
from conveyor_storage_s3 import S3

pytestmark = pytest.mark.s3


class TestS3Conformance(StorageBlockConformance):
    @pytest.fixture
    def storage_block(self, s3_block: S3) -> S3:
        return s3_block
