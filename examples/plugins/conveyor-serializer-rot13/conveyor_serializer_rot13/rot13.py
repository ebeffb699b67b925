"""``Rot13JSON``: a value as JSON text, with rot13 applied to its letters."""

from __future__ import annotations

import codecs
import json
from typing import Any, ClassVar

import attrs
from conveyor.exceptions import SerializationError
from conveyor.serializers import Serializer


@attrs.frozen
class Rot13JSON(Serializer):
    """Encode JSON-compatible values as rot13-scrambled JSON (UTF-8).

    Defining ``dumps`` and ``loads`` is all a serializer needs; streaming ``dump`` and
    ``load`` come from the base class. It has no fields, so its recorded configuration
    is just ``{"type": "rot13-json"}``.
    """

    type: ClassVar[str] = "rot13-json"

    def dumps(self, obj: Any) -> bytes:
        try:
            text = json.dumps(obj, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            message = (
                f"serializer 'rot13-json' cannot encode a {type(obj).__name__}: {exc}; "
                f"return JSON-compatible values (dict, list, str, int, float, bool, None) "
                f"or choose result_serializer='pickle'"
            )
            raise SerializationError(message) from exc
        return codecs.encode(text, "rot13").encode("utf-8")

    def loads(self, data: bytes) -> Any:
        try:
            return json.loads(codecs.decode(bytes(data).decode("utf-8"), "rot13"))
        except (UnicodeDecodeError, ValueError) as exc:
            message = f"serializer 'rot13-json' cannot decode {len(data)} bytes: {exc}"
            raise SerializationError(message) from exc
