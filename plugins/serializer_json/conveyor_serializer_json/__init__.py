"""JSON serializer for conveyor results, on the standard json module or orjson.

Its names are imported on first use (``from conveyor_serializer_json import JSONSerializer``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.markers import lazy_attributes

if TYPE_CHECKING:
    from conveyor_serializer_json.json_serializer import JSONSerializer

_LAZY = {
    "JSONSerializer": "conveyor_serializer_json.json_serializer",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["JSONSerializer"]
