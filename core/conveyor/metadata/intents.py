"""Write intents: a result about to be written is recorded before the first byte is.

A process killed between writing a result and recording its reference leaves a stored
object that no reference names. The intent, committed before the write and removed in
the same transaction as the reference (see :meth:`RunWriter.forget_write_intent`),
names it, so ``results gc`` (and the fault-injection benchmark) can find it.

May import: the standard library (a mixin of :class:`~conveyor.metadata.sqlite.SQLiteStore`
and of every SQL backend: the SQL is what SQLite and PostgreSQL both accept).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.metadata.interface import Row


class WriteIntents:
    """The write-intent methods of the SQL stores (mixed into ``SQLiteStore``)."""

    transaction: Any
    _rows: Any
    writer: Any
    flush: Any

    def record_write_intent(self, storage_document: str, key: str, run_id: str | None) -> None:
        """Commit, now, that ``key`` in storage ``storage_document`` is about to be written:
        queued through the writer and flushed, so it commits in one transaction with the
        rows queued before it (the writing run's own: its intent always names a recorded run)."""
        self.writer.write_intent(storage_document, key, run_id, time.time())
        self.flush()

    def read_write_intents(self) -> list[Row]:
        """Intents not yet removed: writes whose reference may never have been recorded
        (keys ``storage_document``, ``key``, ``run_id``, ``created``), oldest first."""
        return list(self._rows(
            "SELECT storage_document, key, run_id, created FROM write_intents ORDER BY created"
        ))


__all__ = ["WriteIntents"]
