"""Checksums of stored results: which algorithms, a hasher for one, and its text form.

A checksum is ``"<algorithm>:<hex digest>"``. Results written now are checked with
BLAKE3 (:data:`WRITE_ALGORITHM`, ``"blake3:<64 hex>"``, the ``blake3`` package: about
twice sha256's speed on one core and it spreads a large buffer over every core);
references made before say ``"sha256:<64 hex>"`` and are still verified with sha256, as
is the trailer of an old framed result (format 1). The reference's checksum names its
algorithm, so a reader never guesses: :func:`new_hasher` makes the one it names.

Knows bytes only (no file objects, no storage).
"""

from __future__ import annotations

import hashlib
from typing import Any

#: The algorithm new results are checksummed with.
WRITE_ALGORITHM = "blake3"
#: Every algorithm a checksum may name (the old references' sha256 included).
ALGORITHMS = ("blake3", "sha256")
#: How a checksum text starts, one per algorithm.
CHECKSUM_PREFIXES = tuple(f"{name}:" for name in ALGORITHMS)
#: Buffers at least this big are hashed by BLAKE3 on every core (its own thread pool).
PARALLEL_MIN = 4 << 20


def algorithm_of(checksum: Any) -> str | None:
    """The algorithm ``checksum`` names (``"blake3"``, ``"sha256"``), or None when it is
    not a checksum text conveyor knows."""
    if isinstance(checksum, str):
        name, sep, _hex = checksum.partition(":")
        if sep and name in ALGORITHMS:
            return name
    return None


def is_checksum(value: Any) -> bool:
    """Whether ``value`` is a checksum text of a known algorithm (``"blake3:..."``, ``"sha256:..."``)."""
    return algorithm_of(value) is not None


def _blake3() -> Any:
    import blake3  # lazy: only results are hashed with it (keeps `import conveyor` lean)

    return blake3.blake3


def new_hasher(algorithm: str = WRITE_ALGORITHM, *, parallel: bool = False) -> Any:
    """A fresh hasher (``update``, ``digest``) for ``algorithm``.

    With ``parallel``, a BLAKE3 hasher hashes each large ``update`` on every core (for a
    whole payload hashed at once); sha256 has no such mode. Both release the GIL while
    hashing a large buffer.
    """
    if algorithm == "blake3":
        cls = _blake3()
        return cls(max_threads=cls.AUTO) if parallel else cls()
    if algorithm == "sha256":
        return hashlib.sha256()
    raise ValueError(f"unknown checksum algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")


def format_checksum(digest: bytes, algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex>"`` of a raw digest (default sha256: an old framed result's trailer)."""
    return f"{algorithm}:{digest.hex()}"


def checksum_of(data: Any, algorithm: str = WRITE_ALGORITHM) -> str:
    """The checksum text of a whole buffer, hashed on every core when it is large (BLAKE3)."""
    view = memoryview(data)
    hasher = new_hasher(algorithm, parallel=view.nbytes >= PARALLEL_MIN)
    hasher.update(view)
    return format_checksum(hasher.digest(), algorithm)


__all__ = [
    "ALGORITHMS",
    "CHECKSUM_PREFIXES",
    "WRITE_ALGORITHM",
    "algorithm_of",
    "checksum_of",
    "format_checksum",
    "is_checksum",
    "new_hasher",
]
