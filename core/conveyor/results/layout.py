"""The byte layout of a persisted result, and reading the old framed layout.

Since format 2 (:data:`PLAIN_FORMAT`, every result written now), a stored result is
exactly the serializer's bytes, nothing before or after them: a JSON result is a JSON
document, a pickle result loads with ``pickle.load``. What describes it (serializer
configuration, checksum (:mod:`conveyor.results.digests`: BLAKE3 now, sha256 in older
references), size, format version) lives in its reference
(:class:`~conveyor.results.types.ResultReference`) and, on blocks that keep object
metadata (S3), also in the object's metadata (:func:`object_metadata`).

Results written before (format 1, :data:`FRAMED_FORMAT`) are framed and still read::

    b"CONVEYOR" | u8 version (1) | u32 big-endian header length | header JSON
    | payload (the serializer's bytes)
    | trailer: u64 big-endian payload length | sha256 of the payload (32 bytes) | b"CVYEND\\0\\0"

A reference without a ``format`` field is format 1. Nothing new is written framed.

This module knows bytes and file objects only. Every malformed input is a
:class:`~conveyor.exceptions.CorruptResultError` whose message starts with the
``where`` text the caller passes (storage and key), never a ``struct.error``.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

import attrs

from conveyor import __version__
from conveyor.exceptions import CorruptResultError
from conveyor.results.digests import format_checksum

#: Format 1: header, payload, trailer (read only; references without a ``format`` field).
FRAMED_FORMAT = 1
#: Format 2: the serializer's bytes only; the description lives in the reference.
PLAIN_FORMAT = 2
#: The format every new result is written in.
CURRENT_FORMAT = PLAIN_FORMAT
KNOWN_FORMATS = (FRAMED_FORMAT, PLAIN_FORMAT)

MAGIC = b"CONVEYOR"
#: The version byte of a framed (format 1) result's header.
FORMAT_VERSION = FRAMED_FORMAT
#: How a framed result starts: what tells it from a plain one when no format is given.
FRAMED_START = MAGIC + bytes([FRAMED_FORMAT])
TRAILER_MAGIC = b"CVYEND\x00\x00"
PREFIX = struct.Struct(">8sBI")  # magic, format version, header length
TRAILER = struct.Struct(">Q32s8s")  # payload length, sha256, trailer magic
PREFIX_SIZE = PREFIX.size  # 13
TRAILER_SIZE = TRAILER.size  # 48
MAX_HEADER_SIZE = 1 << 20
#: The algorithm of a framed result's trailer (format 1 always used sha256).
TRAILER_ALGORITHM = "sha256"


@attrs.frozen
class Trailer:
    """What the end of a stored result says about its payload."""

    size: int
    checksum: str


# -- describing -------------------------------------------------------------------------

#: Object metadata keys (S3 user metadata: ``x-amz-meta-conveyor-...``).
META_FORMAT = "conveyor-format"
META_SERIALIZER = "conveyor-serializer"
META_SERIALIZER_CONFIG = "conveyor-serializer-config"
META_CHECKSUM = "conveyor-checksum"
META_SIZE = "conveyor-size"
META_VERSION = "conveyor-version"
#: A serializer configuration longer than this is left out of object metadata (S3 keeps
#: at most 2 KiB of user metadata per object); the reference always has it.
MAX_CONFIG_METADATA = 1024


def object_metadata(serializer: dict[str, Any], extra: dict[str, str] | None = None) -> dict[str, str]:
    """What a block that keeps object metadata stores with a result, known before writing.

    The writer adds :data:`META_CHECKSUM` and :data:`META_SIZE` to the same dict once the
    payload is written, before the block commits it. Values are ASCII text (S3's rule).
    """
    config = json.dumps(serializer, sort_keys=True, separators=(",", ":"))
    out = {
        META_FORMAT: str(CURRENT_FORMAT),
        META_SERIALIZER: str(serializer.get("type", "")),
        META_VERSION: __version__,
    }
    if len(config) <= MAX_CONFIG_METADATA:
        out[META_SERIALIZER_CONFIG] = config
    for name, value in (extra or {}).items():
        out[name if name.startswith("conveyor-") else f"conveyor-{name}"] = str(value)
    return out


# -- parsing ----------------------------------------------------------------------------


def read_into(source: Any, view: memoryview) -> int:
    """Fill as much of ``view`` as ``source`` gives (short only at end of file)."""
    readinto = getattr(source, "readinto", None)
    total = 0
    while total < view.nbytes:
        if readinto is not None:
            got = readinto(view[total:])
        else:
            chunk = source.read(view.nbytes - total)
            got = len(chunk)
            view[total : total + got] = chunk
        if not got:
            break
        total += got
    return total


def read_exactly(source: Any, n: int) -> bytes:
    """Up to ``n`` bytes of ``source`` (fewer only at end of file)."""
    buf = bytearray(n)
    got = read_into(source, memoryview(buf))
    return bytes(buf[:got])


def read_header(source: BinaryIO, where: str) -> tuple[dict[str, Any], int]:
    """Read prefix and header from the start of ``source``; return (header, bytes used)."""
    prefix = read_exactly(source, PREFIX_SIZE)
    if len(prefix) < len(MAGIC) or prefix[: len(MAGIC)] != MAGIC:
        raise CorruptResultError(
            f"{where} is not a conveyor result (it does not start with {MAGIC!r}); "
            f"the key holds something else, or the reference points at the wrong storage"
        )
    if len(prefix) < PREFIX_SIZE:
        raise CorruptResultError(f"{where} is truncated: it ends inside its header")
    _magic, version, header_len = PREFIX.unpack(prefix)
    if version != FORMAT_VERSION:
        raise CorruptResultError(
            f"{where} uses result format version {version}, but this conveyor reads only "
            f"version {FORMAT_VERSION}; upgrade conveyor to read it"
        )
    if header_len > MAX_HEADER_SIZE:
        raise CorruptResultError(
            f"{where} is damaged: its header claims {header_len} bytes (at most {MAX_HEADER_SIZE})"
        )
    raw = read_exactly(source, header_len)
    if len(raw) < header_len:
        raise CorruptResultError(f"{where} is truncated: it ends inside its header")
    try:
        header = json.loads(raw)
    except ValueError:
        header = None
    if not isinstance(header, dict):
        raise CorruptResultError(f"{where} is damaged: its header is not a JSON object")
    return header, PREFIX_SIZE + header_len


def parse_trailer(raw: bytes, where: str) -> Trailer:
    if len(raw) != TRAILER_SIZE or raw[-len(TRAILER_MAGIC) :] != TRAILER_MAGIC:
        raise CorruptResultError(
            f"{where} is truncated or incomplete: it does not end with conveyor's trailer; "
            f"the write that made it did not finish"
        )
    size, digest, _magic = TRAILER.unpack(raw)
    return Trailer(size=size, checksum=format_checksum(digest, TRAILER_ALGORITHM))
