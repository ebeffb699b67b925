"""The distribution's own entry point is really installed and registers its class."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_metadata_postgres import PostgresStore


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-metadata-postgres"
    entry_point = "metadata-postgres"
    metadata_backends = (PostgresStore,)
