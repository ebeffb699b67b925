"""Reading a persisted value back inside a flow run (a cache hit, a reused result).

The storage block and serializer a reference names are rebuilt once per flow run, and a
value this flow run already read and verified is handed on again while its stored file
is provably unchanged.

May import: conveyor.engine.context, conveyor.results, conveyor.serializers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.results.types import Result, ResultReference, result_from_json
from conveyor.serializers import serializer_from_dict

if TYPE_CHECKING:
    from conveyor.engine.context import FlowRunContext
    from conveyor.storage.base import StorageBlock


def load_reference(ref: ResultReference, ctx: FlowRunContext | None, memo: bool = True) -> None:
    """Read, verify and cache a reference's value, rebuilding its storage block and
    serializer once per flow run (the reference's own ``get()`` rebuilds them each time)."""
    if ctx is None:
        ref.get()
        return
    ref.verify_signature()  # before anything, also when the storage is already rebuilt
    resolved = ctx.references
    key = (ref.storage, ref.storage_document)
    storage = resolved.get(key)
    if storage is None:
        storage = resolved[key] = ref.resolve_storage()
    # A value this flow run already read and verified is reused while the stored file
    # is provably the same one (the block's fingerprint: for a local file its inode,
    # size and mtime); a rewritten, damaged-by-rewrite or deleted value is read again.
    verified = resolved.get(("verified", ref.checksum, ref.key)) if memo else None
    if verified is not None:
        fingerprint = storage.fingerprint(ref.key)
        if fingerprint is not None and fingerprint == verified[0]:
            ref.cache_value(verified[1])
            return
    skey = tuple(sorted((k, repr(v)) for k, v in ref.serializer.items()))
    serializer = resolved.get(skey)
    if serializer is None:
        serializer = resolved[skey] = serializer_from_dict(ref.serializer)
    before = storage.fingerprint(ref.key) if memo else None
    from conveyor.results.read import read_result  # lazy: runs that read nothing back never import it

    value = read_result(storage, ref.key, serializer=serializer, checksum=ref.checksum, format=ref.format,
                        size=ref.size, label=ref.storage)
    ref.cache_value(value)
    if before is not None and before == storage.fingerprint(ref.key):
        resolved[("verified", ref.checksum, ref.key)] = (before, value)


def parsed_result(text: str, ctx: FlowRunContext | None) -> Result:
    """``result_from_json(text)``, parsed once per flow run: the same record read again (a
    cache entry hit again, say) gives the same result object, its value read once."""
    if ctx is None:
        return result_from_json(text)
    memo = ctx.references
    found: Result | None = memo.get(("parsed", text))
    if found is None:
        found = memo[("parsed", text)] = result_from_json(text)
    return found


def recorded_result(text: str, ctx: FlowRunContext | None, memo: bool) -> Result:
    """The result recorded as ``text`` (a cache entry's, an earlier attempt's), parsed once
    per flow run, its value read and verified now: a damaged or missing one raises here
    (``ConveyorError``, ``OSError``), so the caller runs the task instead of handing it on.
    The value stays in memory afterwards only with ``memo`` (``cache_result_in_memory``)."""
    data = parsed_result(text, ctx)
    if type(data) is ResultReference:
        load_reference(data, ctx, memo=memo)
        if not memo:
            data.forget()  # verified; read again whenever asked for
    else:
        data.get()
    return data


def remember_written(ref: ResultReference, storage: StorageBlock, value: Any, ctx: FlowRunContext) -> None:
    """A value this flow run has just written at ``ref``: a later read of it in the same
    flow run (a retry's reuse, a cache hit) costs a ``stat`` while the stored file is
    provably the one written (the block's fingerprint), instead of a read and a hash."""
    resolved = ctx.references
    resolved.setdefault((ref.storage, ref.storage_document), storage)
    fingerprint = storage.fingerprint(ref.key)
    if fingerprint is not None:
        resolved[("verified", ref.checksum, ref.key)] = (fingerprint, value)


__all__ = ["load_reference", "parsed_result", "recorded_result", "remember_written"]
