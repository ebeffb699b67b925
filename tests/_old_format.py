"""Results in the framed layout of format 1, as conveyor wrote them before format 2.

Only tests make these now (conveyor writes plain payloads, format 2, and reads format 1):
``framed`` is the old writer's byte layout, kept here so tests can make old blobs of any
payload; ``tests/fixtures/result-format1.*`` are blobs written by the old code itself.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def framed(payload: bytes, serializer: dict[str, Any]) -> bytes:
    """``payload`` framed as format 1: magic, version, header JSON, payload, trailer."""
    header = json.dumps(
        {"serializer": serializer, "created": "2026-01-01T00:00:00+00:00", "conveyor": "0.1.0"},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    prefix = struct.pack(">8sBI", b"CONVEYOR", 1, len(header))
    trailer = struct.pack(">Q32s8s", len(payload), hashlib.sha256(payload).digest(), b"CVYEND\0\0")
    return prefix + header + payload + trailer


def split(raw: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    """(header, payload, trailer) of a framed blob."""
    magic, version, header_len = struct.unpack(">8sBI", raw[:13])
    assert magic == b"CONVEYOR" and version == 1
    header = json.loads(raw[13 : 13 + header_len])
    return header, raw[13 + header_len : -48], raw[-48:]


def old_reference(payload: bytes, serializer: dict[str, Any], key: str, **fields: Any) -> dict[str, Any]:
    """The record a format-1 result had: no ``format`` field."""
    return {
        "type": "reference",
        "key": key,
        "serializer": serializer,
        "checksum": "sha256:" + hashlib.sha256(payload).hexdigest(),
        "size": len(payload),
        **fields,
    }


def fixture(name: str) -> tuple[bytes, dict[str, Any]]:
    """A blob written by the old code, and its reference (storage fields to be filled)."""
    blob = (FIXTURES / f"result-format1.{name}.bin").read_bytes()
    record = json.loads((FIXTURES / f"result-format1.{name}.json").read_text())
    return blob, record
