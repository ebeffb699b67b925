"""JSON serializer for conveyor results, on the standard json module or orjson.

Its names are imported on first use (``from conveyor_serializer_json import JSONSerializer``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor_serializer_json.json_serializer import JSONSerializer

_LAZY = {
    "JSONSerializer": "conveyor_serializer_json.json_serializer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["JSONSerializer"]
