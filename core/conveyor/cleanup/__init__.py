"""Cleaning up stored results: what ``conveyor results gc`` and ``conveyor runs rm`` do.

:mod:`.plan` decides, from the metadata store alone, which results of which runs would
go and which are kept (still named by a run that stays, served by an unexpired cache
entry, of a run that can still be resumed), and finds orphaned writes (write intents
whose reference was never recorded). :mod:`.apply` deletes them through the storage
blocks' optional ``delete_path`` and marks each deleted reference, so reading it says
when and by what it was deleted.

May import: conveyor.exceptions, conveyor.filesystems, conveyor.metadata, conveyor.results
(and attrs). Inside: plan <- apply.
"""

from __future__ import annotations

from conveyor.cleanup.apply import GC_REASON, CleanupOutcome, delete_planned, object_size
from conveyor.cleanup.plan import (
    KEPT_REASONS,
    CleanupPlan,
    Doomed,
    describe_kept,
    find_orphans,
    flow_tree,
    plan_cleanup,
    reference_of,
    select_runs,
)

__all__ = [
    "GC_REASON",
    "KEPT_REASONS",
    "CleanupOutcome",
    "CleanupPlan",
    "Doomed",
    "delete_planned",
    "describe_kept",
    "find_orphans",
    "flow_tree",
    "object_size",
    "plan_cleanup",
    "reference_of",
    "select_runs",
]
