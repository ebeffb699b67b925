"""The distribution's own entry point is really installed and registers its class."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_metadata_postgres import PostgresBackend, PostgresStore


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-metadata-postgres"
    entry_point = "metadata-postgres"
    metadata_backends = (PostgresBackend,)


def test_the_backend_makes_the_store_and_serves_its_schemes():
    assert PostgresBackend.schemes == PostgresStore.schemes
    store = PostgresBackend.from_url("postgresql://u:secret@127.0.0.1:1/x")
    assert isinstance(store, PostgresStore) and "secret" not in store.location
