"""``PickleSerializer``: any Python object, through cloudpickle or another pickle library."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import attrs

from conveyor.serializers import Serializer


@attrs.frozen
class PickleSerializer(Serializer):
    """Pickle values with ``picklelib`` (a module with ``dumps`` and ``loads``)."""

    type: ClassVar[str] = "pickle"

    picklelib: str = "cloudpickle"

    def _lib(self) -> Any:
        return importlib.import_module(self.picklelib)

    def dumps(self, obj: Any) -> bytes:
        return self._lib().dumps(obj, protocol=5)

    def loads(self, data: bytes) -> Any:
        return self._lib().loads(data)
