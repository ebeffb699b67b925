"""Built-in plugin: registers :class:`~conveyor.metadata.sqlite.SQLiteStore` as the
metadata backend of URL scheme ``sqlite`` (and of every plain path).

The same shape as a plugin distribution's ``hooks`` module; loaded by name from
:data:`conveyor.plugins.builtin.DEFAULT_PLUGINS`.

May import: conveyor.markers, the sibling ``sqlite``.
"""

from __future__ import annotations

from conveyor.markers import hookimpl
from conveyor.metadata.sqlite import SQLiteStore


@hookimpl
def conveyor_register_metadata_backends() -> list[type]:
    return [SQLiteStore]
