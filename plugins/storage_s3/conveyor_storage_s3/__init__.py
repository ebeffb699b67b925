"""Amazon S3 (and S3-compatible) storage for conveyor results, on boto3.

Its names are imported on first use (``from conveyor_storage_s3 import S3``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.markers import lazy_attributes

if TYPE_CHECKING:
    from conveyor_storage_s3.s3 import S3

_LAZY = {
    "S3": "conveyor_storage_s3.s3",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["S3"]
