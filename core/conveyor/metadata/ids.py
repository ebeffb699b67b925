"""Ids and the canonical JSON that block document ids are computed from."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any


def new_id() -> str:
    """A fresh run id."""
    return str(uuid.uuid4())


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def document_id(block_type: str, config: dict[str, Any]) -> str:
    digest = hashlib.sha256(canonical_json({"t": block_type, "c": config}).encode()).hexdigest()
    return digest[:32]
