"""The distribution's own entry point is really installed and registers its class."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_storage_s3 import S3


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-storage-s3"
    entry_point = "storage-s3"
    storage = (S3,)
