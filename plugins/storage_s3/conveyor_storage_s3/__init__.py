"""Amazon S3 (and S3-compatible) storage for conveyor results, on boto3.

Its names are imported on first use (``from conveyor_storage_s3 import S3``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor_storage_s3.s3 import S3

_LAZY = {
    "S3": "conveyor_storage_s3.s3",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["S3"]
