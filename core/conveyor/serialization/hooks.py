"""Built-in plugin: registers :class:`~conveyor.serialization.compressed.CompressedSerializer`.

The same shape as every plugin distribution's ``hooks`` module; loaded by name from
:data:`conveyor.plugins.builtin.DEFAULT_PLUGINS`. The class is named, not imported
(:class:`~conveyor.markers.ClassRef`): ``compressed`` (and zlib, lzma, bz2) is imported
when the ``compressed`` serializer is first used.

May import: conveyor.markers.
"""

from __future__ import annotations

from conveyor.markers import ClassRef, hookimpl


@hookimpl
def conveyor_register_serializers() -> list[ClassRef]:
    return [ClassRef("compressed", "conveyor.serialization.compressed:CompressedSerializer")]
