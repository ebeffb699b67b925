"""Built-in plugin: registers :class:`~conveyor.metadata.sqlite.SQLiteStore` as the
metadata backend of URL scheme ``sqlite`` (and of every plain path).

The same shape as a plugin distribution's ``hooks`` module; loaded by name from
:data:`conveyor.plugins.builtin.DEFAULT_PLUGINS`. The class is named, not imported
(:class:`~conveyor.markers.ClassRef`): the SQLite store is imported when it is first used.

May import: conveyor.markers.
"""

from __future__ import annotations

from conveyor.markers import ClassRef, hookimpl


@hookimpl
def conveyor_register_metadata_backends() -> list[ClassRef]:
    return [ClassRef(("sqlite",), "conveyor.metadata.sqlite:SQLiteStore")]
