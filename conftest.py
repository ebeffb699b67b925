"""Shared by the core's tests and every plugin's tests."""

import pytest

pytest_plugins = [
    "conveyor.testing.fixtures",
    "conveyor_storage_s3.testing.fixtures",
    "conveyor_metadata_postgres.testing.fixtures",
]

# The plugin skeleton: its placeholder package is not installed, so its tests cannot run.
collect_ignore = ["plugins/_template"]


@pytest.fixture(autouse=True)
def _isolated(conveyor_home):
    """Every test gets its own metadata database and default result folder."""
    yield
