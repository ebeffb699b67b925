"""JSON serializer for conveyor results, on the standard json module or orjson."""

from conveyor_serializer_json.json_serializer import JSONSerializer

__all__ = ["JSONSerializer"]
