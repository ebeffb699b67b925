"""Example conveyor serializer plugin: JSON text, rot13-encoded."""

from conveyor_serializer_rot13.rot13 import Rot13JSON

__all__ = ["Rot13JSON"]
