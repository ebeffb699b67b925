"""The byte layout of a persisted result: magic, header, trailer, and reading them.

A stored result is::

    b"CONVEYOR" | u8 format version | u32 big-endian header length | header JSON
    | payload (the serializer's bytes, exactly as ``serializer.dump`` wrote them)
    | trailer: u64 big-endian payload length | sha256 of the payload (32 bytes) | b"CVYEND\\0\\0"

The header says who wrote the payload (serializer configuration, time, conveyor
version); the fixed-size trailer carries what is only known once the payload has been
streamed out: its length and digest. Nothing is base64'd or wrapped: a large value costs
what its serializer costs, plus one pass of sha256.

This module knows bytes and file objects only. Every malformed input is a
:class:`~conveyor.exceptions.CorruptResultError` whose message starts with the
``where`` text the caller passes (storage and key), never a ``struct.error``.
"""

from __future__ import annotations

import datetime
import json
import struct
from typing import Any, BinaryIO

import attrs

from conveyor import __version__
from conveyor.exceptions import CorruptResultError

MAGIC = b"CONVEYOR"
FORMAT_VERSION = 1
TRAILER_MAGIC = b"CVYEND\x00\x00"
PREFIX = struct.Struct(">8sBI")  # magic, format version, header length
TRAILER = struct.Struct(">Q32s8s")  # payload length, sha256, trailer magic
PREFIX_SIZE = PREFIX.size  # 13
TRAILER_SIZE = TRAILER.size  # 48
MAX_HEADER_SIZE = 1 << 20
CHECKSUM_PREFIX = "sha256:"


def format_checksum(digest: bytes) -> str:
    """``"sha256:<hex>"`` of a raw sha256 digest."""
    return CHECKSUM_PREFIX + digest.hex()


@attrs.frozen
class Trailer:
    """What the end of a stored result says about its payload."""

    size: int
    checksum: str


# -- making -----------------------------------------------------------------------------


def make_header(serializer: dict[str, Any]) -> bytes:
    """The prefix and header JSON that start every stored result."""
    header = json.dumps(
        {
            "serializer": serializer,
            "created": datetime.datetime.now(datetime.UTC).isoformat(),
            "conveyor": __version__,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    return PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header


def make_trailer(size: int, digest: bytes) -> bytes:
    return TRAILER.pack(size, digest, TRAILER_MAGIC)


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
    return Trailer(size=size, checksum=format_checksum(digest))
