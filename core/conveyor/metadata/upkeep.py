"""What a metadata database offers for keeping results tidy: lineage, clean-up, deletion marks.

:class:`UpkeepStore` and :class:`LineageWriter` are parts of the
:class:`~conveyor.metadata.MetadataStore` and :class:`~conveyor.metadata.MetadataWriter`
protocols (they inherit them), kept here so each module stays one job: ``conveyor results
gc`` and ``conveyor runs rm`` use these methods, and the engine records each task run's
input lineage through :meth:`LineageWriter.set_task_inputs`.

May import: the standard library (and, for type hints only, ``Row`` of :mod:`.interface`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from conveyor.metadata.interface import Row

#: Keys of a cache entry row (``data``: the result JSON; ``expires``: unix time or None).
CACHE_ENTRY_COLUMNS = ("cache_key", "task_run_id", "data", "created", "expires")
#: Keys of a state data row (``run_kind``: ``'flow'`` or ``'task'``; ``data``: result JSON).
STATE_DATA_COLUMNS = ("flow_run_id", "run_id", "run_kind", "data")


class LineageWriter(Protocol):
    """The writer's part for input lineage."""

    def set_task_inputs(self, run_id: str, inputs: str) -> None:
        """Queue the lineage of task run ``run_id`` (column ``inputs``): the JSON object
        ``{"<parameter>": ["<upstream task run id>", ...]}`` of the task runs whose results
        it received as inputs."""
        ...


class UpkeepStore(Protocol):
    """The store's part for ``results gc`` and ``runs rm``.

    Each method is one short transaction (reads flush the writer first, as every read does).
    """

    def read_cache_entries(self, now: float) -> Sequence[Row]:
        """Cache entries not expired at unix time ``now`` (keys :data:`CACHE_ENTRY_COLUMNS`)."""
        ...

    def read_state_data(self, flow_run_ids: Sequence[str]) -> Sequence[Row]:
        """Every distinct ``(run_id, data)`` of a state row with result data, of the flow
        runs ``flow_run_ids`` and of their task runs (keys :data:`STATE_DATA_COLUMNS`;
        subflow runs are not included: they are flow runs of their own)."""
        ...

    def delete_flow_runs(self, flow_run_ids: Sequence[str]) -> int:
        """Delete the flow runs ``flow_run_ids``, their task runs, every state row of
        either, the cache entries of those task runs and the write intents of any of
        those runs, in one transaction; return how many runs (flow and task) went."""
        ...

    def remove_write_intents(self, items: Sequence[tuple[str, str]]) -> None:
        """Delete the write intents ``(storage_document, key)`` (their objects are gone)."""
        ...

    def record_deleted_results(
        self, items: Sequence[tuple[str, str, str]], deleted: float, reason: str
    ) -> None:
        """Record that the results ``(storage_document, key, checksum)`` were deleted at
        unix time ``deleted`` by ``reason`` (e.g. ``"results gc"``), replacing any mark."""
        ...

    def read_deleted_result(
        self, storage_document: str, key: str, checksum: str
    ) -> tuple[float, str] | None:
        """``(deleted, reason)`` if that result was marked deleted, else None."""
        ...


__all__ = ["CACHE_ENTRY_COLUMNS", "STATE_DATA_COLUMNS", "LineageWriter", "UpkeepStore"]
