"""The distribution's own entry point is really installed and registers its class."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_storage_local import LocalFileSystem


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-storage-local"
    entry_point = "storage-local"
    storage = (LocalFileSystem,)
