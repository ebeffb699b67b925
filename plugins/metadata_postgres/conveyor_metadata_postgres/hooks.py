"""Hook implementations of conveyor-metadata-postgres."""

from __future__ import annotations

from conveyor import hookimpl

from conveyor_metadata_postgres.backend import PostgresBackend


@hookimpl
def conveyor_register_metadata_backends():
    return [PostgresBackend]
