"""Small results read again in this process: their verified bytes, kept while the stored
file is provably the same one.

A cache hit of a task called outside any flow reads the same small result on every call.
The second time a process reads a result (the same storage block, key and checksum) of at
most :data:`REREAD_MAX_BYTES`, :func:`conveyor.results.read.read_result` takes the block's
fingerprint (:meth:`~conveyor.storage.base.StorageBlock.fingerprint`; for a local file its
inode, size and mtime) before and after the read, and keeps the verified payload bytes
when the two agree. Later reads cost a fingerprint and a deserialize while it stays the
same: a rewritten or removed file is read (and verified) again. What is deserialized is
always bytes that hashed to the reference's checksum, and every read builds a fresh value
(nothing is shared between two reads). Blocks that cannot tell a fingerprint cheaply (the
default ``None``) are always read.

Bounded: at most :data:`REREAD_MAX_ENTRIES` results remembered (the oldest dropped first),
so at most 16 MiB of bytes. Knows storage blocks through their fingerprint only; the
standard library.
"""

from __future__ import annotations

import threading
from typing import Any

#: Results larger than this are never kept (reading them costs more than the check).
REREAD_MAX_BYTES = 64 << 10
#: At most this many results are remembered (seen once, or kept).
REREAD_MAX_ENTRIES = 256

_SEEN = object()  # read once: the next read takes the fingerprints
_NEVER = object()  # its block cannot tell a fingerprint: always read, no more fingerprints
_lock = threading.Lock()
#: (id of the block, key, checksum) -> _SEEN, _NEVER, or (block, fingerprint, payload bytes)
_kept: dict[tuple[int, str, str], Any] = {}


def _key(storage: Any, key: str, checksum: str) -> tuple[int, str, str]:
    return (id(storage), key, checksum)


def kept_payload(storage: Any, key: str, checksum: str, size: int | None) -> tuple[bytes | None, bool]:
    """``(payload, watch)``: the verified bytes kept for this result while its fingerprint
    is unchanged (else None), and whether this read should take fingerprints to keep it."""
    if size is None or size > REREAD_MAX_BYTES:
        return None, False
    mkey = _key(storage, key, checksum)
    entry = _kept.get(mkey)
    if entry is None:
        with _lock:
            _remember(mkey, _SEEN)
        return None, False
    if entry is _SEEN:
        return None, True
    if entry is _NEVER:
        return None, False
    block, fingerprint, payload = entry
    if block is not storage:  # an id reused by another block: start again
        with _lock:
            _kept.pop(mkey, None)
        return None, False
    if fingerprint is not None and _fingerprint(storage, key) == fingerprint:
        return payload, False
    return None, True


def fingerprint_before(storage: Any, key: str) -> object | None:
    """The block's fingerprint of ``key`` now, or None (it cannot tell, or the key is gone)."""
    return _fingerprint(storage, key)


def keep_payload(storage: Any, key: str, checksum: str, before: object | None, payload: bytes) -> None:
    """Keep ``payload`` (just verified) when the file is still the one ``before`` named;
    with no ``before`` (the block cannot tell), never take fingerprints for it again."""
    if before is None:
        with _lock:
            _remember(_key(storage, key, checksum), _NEVER)
        return
    if _fingerprint(storage, key) != before:
        return
    with _lock:
        _remember(_key(storage, key, checksum), (storage, before, payload))


def forget_all() -> None:
    """Drop every kept payload (tests; a process that wants its memory back)."""
    with _lock:
        _kept.clear()


def _remember(mkey: tuple[int, str, str], entry: Any) -> None:
    _kept.pop(mkey, None)
    _kept[mkey] = entry  # newest last
    while len(_kept) > REREAD_MAX_ENTRIES:
        del _kept[next(iter(_kept))]


def _fingerprint(storage: Any, key: str) -> object | None:
    try:
        return storage.fingerprint(key)
    except Exception:  # noqa: BLE001 - a missing key, a storage error: read it the normal way
        return None


__all__ = [
    "REREAD_MAX_BYTES",
    "REREAD_MAX_ENTRIES",
    "fingerprint_before",
    "forget_all",
    "keep_payload",
    "kept_payload",
]
