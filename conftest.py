"""Shared by the core's tests and every plugin's tests."""

import pytest

pytest_plugins = ["conveyor.testing.fixtures", "conveyor.testing.s3server"]


@pytest.fixture(autouse=True)
def _isolated(conveyor_home):
    """Every test gets its own metadata database and default result folder."""
    yield
