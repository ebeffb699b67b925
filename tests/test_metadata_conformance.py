"""The SQLite store passes the metadata backend conformance suite (conveyor.testing.metadata);
the PostgreSQL plugin runs the same suite against its store."""

from __future__ import annotations

import pytest
from conveyor.metadata import SQLiteStore
from conveyor.testing.metadata import MetadataStoreConformance
from conveyor.testing.metadata_states import StatesConformance
from conveyor.testing.metadata_upkeep import UpkeepConformance


class TestSQLiteConformance(MetadataStoreConformance, UpkeepConformance, StatesConformance):
    @pytest.fixture
    def store_url(self, tmp_path):
        return f"sqlite://{tmp_path}/conformance.db"

    @pytest.fixture
    def make_store(self, store_url):
        return lambda: SQLiteStore.from_url(store_url)
