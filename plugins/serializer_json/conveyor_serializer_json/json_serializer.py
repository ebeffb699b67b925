"""``JSONSerializer``: readable JSON, through the standard json module or orjson."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import attrs

from conveyor.serializers import Serializer


@attrs.frozen
class JSONSerializer(Serializer):
    """Encode values as JSON with ``jsonlib`` (``"json"`` or ``"orjson"``)."""

    type: ClassVar[str] = "json"

    jsonlib: str = "json"

    def dumps(self, obj: Any) -> bytes:
        lib = importlib.import_module(self.jsonlib)
        out = lib.dumps(obj)
        return out if isinstance(out, bytes) else out.encode()

    def loads(self, data: bytes) -> Any:
        return importlib.import_module(self.jsonlib).loads(data)
