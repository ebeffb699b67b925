"""Results: what a state holds about the value of a task run or flow run.

A state holds one of three kinds (:mod:`.types`): a :class:`ResultLiteral` (exactly
``True``, ``False`` or ``None``, kept inline in the metadata database), a
:class:`ResultReference` (a value persisted to a storage block: where it is, how to read
it, how to check it; never the value itself) or an :class:`UnpersistedResult` (a value
passed in memory only; read back in another process, its ``get()`` raises
:class:`MissingResult`).

Persisted values are stored as exactly their serializer's bytes, described by their
reference (format 2; old framed results, format 1, are still read: :mod:`.layout`), by
:func:`persist_value` / :func:`write_result` (:mod:`.write`, streaming through
:mod:`.hashing`), read back by :func:`read_result` (:mod:`.read`, checked by
:mod:`.payload`) and checked without deserializing by :func:`verify`
(:mod:`.verification`). :mod:`.storage` records and rebuilds the blocks references name.

The three kinds are imported with the package; what reads, writes and checks bytes
(:mod:`.read`, :mod:`.write`, :mod:`.storage`, :mod:`.verification`) on first use of
one of its names, so that a run that persists nothing never imports them.

Modules here may import conveyor.exceptions, conveyor.markers (the package's lazy
names), conveyor.serializers, conveyor.filesystems,
conveyor.blocks, conveyor.metadata, the ``conveyor`` package itself (for its version)
and the standard library (plus attrs); never conveyor.engine, conveyor.states or
conveyor.plugins directly; third-party: ``blake3`` (lazily, by :mod:`.digests`); ``ctypes``
only in :mod:`.prefault`. Inside: transfer, digests, prefault, reread; digests <- layout <- hashing
<- copying <- payload; storage, reread <- read <- types <- write, verification (no cycles; types
imports read and storage lazily, in the methods that read). :mod:`.digests` names the
checksum algorithms (BLAKE3 for new results, sha256 for older references) and makes their
hashers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.exceptions import CorruptResultError, MissingResult, ResultNotFoundError
from conveyor.markers import lazy_attributes
from conveyor.results.types import (
    MISSING_MESSAGE,
    Result,
    ResultLiteral,
    ResultReference,
    UnpersistedResult,
    is_literal,
    result_from_dict,
    result_from_json,
)

if TYPE_CHECKING:
    from conveyor.results.read import open_payload, read_result, read_result_file, read_result_header
    from conveyor.results.storage import ANONYMOUS_PREFIX, record_storage, resolve_reference_storage
    from conveyor.results.verification import Verification, VerificationStatus, verify
    from conveyor.results.write import persist_value, write_result, written_reference

#: Names imported on first use: reading, writing and checking bytes in storage (the
#: engine's own modules import them from their modules, when a run persists or reads).
_LAZY = {
    "open_payload": "conveyor.results.read",
    "read_result": "conveyor.results.read",
    "read_result_file": "conveyor.results.read",
    "read_result_header": "conveyor.results.read",
    "ANONYMOUS_PREFIX": "conveyor.results.storage",
    "record_storage": "conveyor.results.storage",
    "resolve_reference_storage": "conveyor.results.storage",
    "Verification": "conveyor.results.verification",
    "VerificationStatus": "conveyor.results.verification",
    "verify": "conveyor.results.verification",
    "persist_value": "conveyor.results.write",
    "write_result": "conveyor.results.write",
    "written_reference": "conveyor.results.write",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "ANONYMOUS_PREFIX",
    "MISSING_MESSAGE",
    "CorruptResultError",
    "MissingResult",
    "Result",
    "ResultLiteral",
    "ResultNotFoundError",
    "ResultReference",
    "UnpersistedResult",
    "Verification",
    "VerificationStatus",
    "is_literal",
    "open_payload",
    "persist_value",
    "read_result",
    "read_result_file",
    "read_result_header",
    "record_storage",
    "resolve_reference_storage",
    "result_from_dict",
    "result_from_json",
    "verify",
    "write_result",
    "written_reference",
]
