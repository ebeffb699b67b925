"""Hook implementations of conveyor-metadata-postgres (the entry point's target).

The class is named, not imported (:class:`conveyor.markers.ClassRef`): loading the plugin
costs only this module; ``conveyor_metadata_postgres.backend`` is imported when PostgresBackend is first used.
"""

from __future__ import annotations

from conveyor import hookimpl
from conveyor.markers import ClassRef


@hookimpl
def conveyor_register_metadata_backends():
    return [ClassRef(("postgresql", "postgres"), "conveyor_metadata_postgres.backend:PostgresBackend")]
