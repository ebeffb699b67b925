"""Pickle serializer for conveyor results, on cloudpickle by default.

Its names are imported on first use (``from conveyor_serializer_pickle import PickleSerializer``),
so that conveyor loading the plugin (its ``hooks`` module) imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.markers import lazy_attributes

if TYPE_CHECKING:
    from conveyor_serializer_pickle.pickle_serializer import PickleSerializer

_LAZY = {
    "PickleSerializer": "conveyor_serializer_pickle.pickle_serializer",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["PickleSerializer"]
