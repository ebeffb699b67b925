"""Hook implementations of conveyor-storage-s3 (the entry point's target).

The class is named, not imported (:class:`conveyor.markers.ClassRef`): loading the plugin
costs only this module; ``conveyor_storage_s3.s3`` is imported when S3 is first used.
"""

from __future__ import annotations

from conveyor import hookimpl
from conveyor.markers import ClassRef


@hookimpl
def conveyor_register_storage():
    return [ClassRef("s3", "conveyor_storage_s3.s3:S3")]
