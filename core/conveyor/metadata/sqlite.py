"""The SQLite metadata database: :class:`SQLiteStore`, one file under ``CONVEYOR_HOME``.

SQLite in WAL mode. Several processes may write at once: every write is one short
transaction (``BEGIN IMMEDIATE``), and a busy database is waited on (busy timeout) rather
than failed. The schema is created and migrated on first use (:mod:`.schema`); opening,
permissions and error messages are :mod:`.opening`'s (connections and transactions
:mod:`.connections`', the browsing queries :mod:`.browsing`'s). Inside ``reading_only()``
reads never create a database: a store whose file does not exist reads as empty. Runs,
states and cache rows are written through the batched :class:`~.writer.RunWriter`, which
commits through :meth:`~.sqlite_writes.BatchWrites.write_batch`. The methods themselves
are :class:`~.shared.SharedStore`'s, shared with every SQL backend.

It is the built-in metadata backend (:mod:`.hooks`): URL scheme ``sqlite``
(``sqlite:///abs/path.db``), and every plain path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from conveyor.metadata.browsing import Browsing
from conveyor.metadata.connections import Connections
from conveyor.metadata.intents import WriteIntents
from conveyor.metadata.pruning import Pruning
from conveyor.metadata.shared import SharedStore
from conveyor.metadata.sqlite_writes import BatchWrites
from conveyor.metadata.urls import sqlite_path


class SQLiteStore(SharedStore, Browsing, WriteIntents, Pruning, BatchWrites, Connections):
    """One metadata database file. Thread-safe: a connection per thread.

    Implements :class:`conveyor.metadata.MetadataStore`; :attr:`path`, :meth:`transaction`
    and :meth:`query` are SQLite only (tests and benchmarks).
    """

    #: The URL scheme it serves (``sqlite:///abs/path.db``); a plain path is SQLite too.
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._start_process_state()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """The store of ``sqlite:///abs/path.db`` (``sqlite://rel.db``: relative to the
        working directory) or of a plain path."""
        return cls(sqlite_path(url).resolve())

    @property
    def location(self) -> str:
        """The database file's path (messages name it)."""
        return str(self.path)
