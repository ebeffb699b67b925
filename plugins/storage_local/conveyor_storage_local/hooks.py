"""Hook implementations of conveyor-storage-local (the entry point's target).

The class is named, not imported (:class:`conveyor.markers.ClassRef`): loading the plugin
costs only this module; ``conveyor_storage_local.local`` is imported when LocalFileSystem is first used.
"""

from __future__ import annotations

from conveyor import hookimpl
from conveyor.markers import ClassRef


@hookimpl
def conveyor_register_storage():
    return [ClassRef("local-file-system", "conveyor_storage_local.local:LocalFileSystem")]
