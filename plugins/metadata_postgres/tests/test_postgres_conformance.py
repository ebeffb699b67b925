"""PostgresStore passes the metadata backend conformance suite against a real PostgreSQL 16
(pgserver), each test in a fresh schema; and what is PostgreSQL's own: the masked URL,
errors, migrations under concurrency."""

from __future__ import annotations

import pytest
from conveyor.exceptions import ConfigurationError, MetadataError, UnknownNameError
from conveyor.metadata import get_store
from conveyor.testing.metadata import MetadataStoreConformance
from conveyor.testing.metadata_states import StatesConformance
from conveyor.testing.metadata_upkeep import UpkeepConformance
from conveyor_metadata_postgres import PostgresStore
from conveyor_metadata_postgres.schema import MIGRATIONS


class TestPostgresConformance(MetadataStoreConformance, UpkeepConformance, StatesConformance):
    @pytest.fixture
    def store_url(self, postgres_url):
        return postgres_url

    @pytest.fixture
    def make_store(self, store_url):
        return lambda: PostgresStore.from_url(store_url)


def test_get_store_picks_postgres_by_scheme_one_per_url(postgres_url):
    store = get_store(postgres_url)
    assert isinstance(store, PostgresStore) and get_store(postgres_url) is store
    assert get_store(postgres_url.replace("postgresql://", "postgres://", 1)) is not store


def test_the_password_is_never_shown(postgres_server):
    url = postgres_server.url.replace("postgres:@", "conveyor:s3cr%40t-pw@", 1)
    store = PostgresStore(url)
    assert "s3cr" not in store.location and "s3cr" not in repr(store)
    assert store.location.startswith("postgresql://conveyor:***@")
    with pytest.raises(MetadataError) as info:
        store.list_blocks()  # no such role: the server refuses the connection
    text = str(info.value)
    assert "s3cr" not in text and "conveyor:***@" in text and "\n" not in text
    assert "CONVEYOR_DATABASE_URL" in text


def test_an_unreachable_server_is_a_bounded_clear_error():
    store = PostgresStore("postgresql://u:pw-123@127.0.0.1:1/db?connect_timeout=2")
    with pytest.raises(MetadataError, match="cannot connect to the metadata database") as info:
        store.read_flow_runs()
    assert "pw-123" not in str(info.value)


def test_another_applications_tables_are_left_alone(postgres_server, postgres_url):
    with postgres_server.admin() as conn:
        schema = postgres_url.rpartition("%3D")[2]
        conn.execute(f'CREATE TABLE "{schema}".flow_runs (x int)')
    with pytest.raises(MetadataError, match="not conveyor's metadata database"):
        PostgresStore(postgres_url).list_blocks()


def test_a_newer_schema_is_refused(postgres_server, postgres_url):
    store = PostgresStore(postgres_url)
    assert store.schema_version == len(MIGRATIONS)
    schema = postgres_url.rpartition("%3D")[2]
    with postgres_server.admin() as conn:
        conn.execute(f'UPDATE "{schema}".schema_version SET version = 999')
    with pytest.raises(ConfigurationError, match="schema version 999, newer"):
        PostgresStore(postgres_url).list_blocks()


def test_without_the_plugin_the_scheme_names_what_to_install(monkeypatch):
    monkeypatch.setenv("CONVEYOR_DISABLE_PLUGINS", "metadata-postgres")
    from conveyor import plugins

    with plugins.use_plugin_manager(plugins.make_plugin_manager()):
        with pytest.raises(UnknownNameError) as info:
            get_store("postgresql://u:hidden-pw@db.example/x")
    text = str(info.value)
    assert "hidden-pw" not in text and "CONVEYOR_DISABLE_PLUGINS" in text
