"""Carrying out a :class:`~conveyor.cleanup.plan.CleanupPlan`: :func:`delete_planned`.

Before a result's object is deleted its reference is checked as every read checks it
(its signature, when signatures are required: a forged record cannot point the clean-up
at another object), and the object is verified to be still the one the reference wrote
(same size and checksum): a key written again by someone else is left alone. Each
deleted result is then marked in the metadata store, so reading its reference says
"deleted by results gc on <date>" rather than "missing". A block that does not offer
``delete_path`` is named once, with how many of its results were kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from conveyor.cleanup.plan import CleanupPlan, Doomed
from conveyor.exceptions import ConveyorError
from conveyor.filesystems import StorageBlock, block_from_dict, offers
from conveyor.metadata import MetadataStore
from conveyor.results.verification import verify

#: The reason recorded with each result ``conveyor results gc`` deletes.
GC_REASON = "results gc"


@attrs.define
class CleanupOutcome:
    """What :func:`delete_planned` did."""

    deleted: list[Doomed] = attrs.Factory(list)
    #: objects already gone (nothing to delete)
    absent: int = 0
    #: results left alone, each with one line saying why
    skipped: list[str] = attrs.Factory(list)
    #: storage labels that cannot delete, with how many results were kept there
    cannot_delete: dict[str, int] = attrs.Factory(dict)

    @property
    def bytes(self) -> int:
        return sum(d.size or 0 for d in self.deleted)


class _Blocks:
    """Each storage block rebuilt once (from the reference, or an intent's document)."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self._by_place: dict[tuple[str, str], StorageBlock | Exception] = {}

    def __call__(self, item: Doomed) -> StorageBlock:
        ref = item.reference
        place = (ref.storage if ref is not None else "", item.storage_document)
        found = self._by_place.get(place)
        if found is None:
            try:
                if ref is not None:
                    found = ref.resolve_storage()
                else:
                    block_type, config = self.store.get_block_document(item.storage_document)
                    found = block_from_dict({"block_type": block_type, **config})
            except (ConveyorError, ValueError, TypeError, OSError) as exc:
                found = exc
            self._by_place[place] = found
        if isinstance(found, Exception):
            raise found
        return found


def object_size(store: MetadataStore, item: Doomed) -> int | None:
    """The size of an orphan's object (its reference, if any, says it otherwise), or None
    when it is gone or its block cannot tell without reading it all."""
    if item.size is not None:
        return item.size
    try:
        block = _Blocks(store)(item)
        with block.open_read(item.key) as fh:
            if not fh.seekable():
                return None
            return fh.seek(0, 2)
    except (ConveyorError, OSError, ValueError, TypeError):
        return None


def _label(item: Doomed) -> str:
    ref = item.reference
    return ref.storage if ref is not None else f"anonymous/{item.storage_document}"


def delete_planned(
    store: MetadataStore, plan: CleanupPlan, reason: str = GC_REASON,
    progress: Callable[[Doomed], None] | None = None,
) -> CleanupOutcome:
    """Delete the plan's results and orphans; mark each deleted result in ``store``."""
    outcome = CleanupOutcome()
    blocks = _Blocks(store)
    marks: list[tuple[str, str, str]] = []
    intents_done: list[tuple[str, str]] = []
    for item in [*plan.results, *plan.orphans]:
        ref = item.reference
        try:
            block = blocks(item)
        except (ConveyorError, ValueError, TypeError, OSError) as exc:
            outcome.skipped.append(f"{_label(item)} key {item.key}: cannot rebuild its storage: {exc}")
            continue
        if not offers(block, "delete_path"):
            label = _label(item)
            outcome.cannot_delete[label] = outcome.cannot_delete.get(label, 0) + 1
            continue
        try:
            if ref is not None:
                check = verify(ref)
                if check.status == "missing":  # gone already: not marked as deleted by this
                    outcome.absent += 1
                    continue
                if not check.ok:
                    outcome.skipped.append(f"{ref.storage} key {item.key}: not deleted: {check.problem}")
                    continue
            elif not block.exists(item.key):
                outcome.absent += 1
                intents_done.append((item.storage_document, item.key))
                continue
            block.delete_path(item.key)
        except (ConveyorError, OSError) as exc:
            outcome.skipped.append(f"{_label(item)} key {item.key}: could not delete: {exc}")
            continue
        outcome.deleted.append(item)
        if ref is not None:
            marks.append((item.storage_document, item.key, ref.checksum))
        else:
            intents_done.append((item.storage_document, item.key))
        if progress is not None:
            progress(item)
    if marks:
        store.record_deleted_results(marks, time.time(), reason)
    if intents_done:
        store.remove_write_intents(intents_done)
    return outcome


__all__ = ["GC_REASON", "CleanupOutcome", "delete_planned", "object_size"]
