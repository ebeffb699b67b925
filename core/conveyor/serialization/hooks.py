"""Built-in plugin: registers :class:`~conveyor.serialization.compressed.CompressedSerializer`.

The same shape as every plugin distribution's ``hooks`` module; loaded by name from
:data:`conveyor.plugins.builtin.DEFAULT_PLUGINS`.

May import: conveyor.markers, conveyor.serialization.
"""

from __future__ import annotations

from conveyor.markers import hookimpl
from conveyor.serialization.base import Serializer
from conveyor.serialization.compressed import CompressedSerializer


@hookimpl
def conveyor_register_serializers() -> list[type[Serializer]]:
    return [CompressedSerializer]
