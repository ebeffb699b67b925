"""The metadata database: runs, states, result references and literals, saved blocks and
block documents, the cache index. Never a result's value.

:class:`MetadataStore` (in :mod:`.interface`) is everything the rest of conveyor may ask
of a database; :class:`SQLiteStore` implements it over one SQLite file under
``CONVEYOR_HOME`` (the built-in backend); plugins add others (PostgreSQL:
``conveyor-metadata-postgres``) through the ``conveyor_register_metadata_backends`` hook;
:func:`get_store` hands out one store per database per process, picked by
``CONVEYOR_DATABASE_URL``.

Modules: ``interface`` (the protocols), ``schema`` (migrations, WAL set-up), ``sqlite``
(the store), ``writer`` (the batched writer thread, shared by every backend), ``batch``
(the rows a writer hands a backend), ``sqlite_writes`` (SQLite's commit of a batch),
``registry`` (``get_store``, backend by URL, fork handling), ``urls`` (URL schemes,
passwords masked), ``hooks`` (the built-in plugin), ``ids`` (run and block document ids).

May import: ``conveyor.exceptions``, ``conveyor.settings``, ``conveyor.markers`` (the
built-in plugin) and ``conveyor.plugins`` (the backend registry, in ``registry`` only),
and the standard library.
"""

from __future__ import annotations

from conveyor.metadata.batch import Batch, BatchTarget, shape
from conveyor.metadata.ids import canonical_json, document_id, new_id
from conveyor.metadata.interface import (
    FLOW_RUN_COLUMNS,
    RESULT_RECORD_COLUMNS,
    STATE_COLUMNS,
    TASK_RUN_COLUMNS,
    FlowRunOrigin,
    MetadataStore,
    MetadataWriter,
    Row,
    RunLabels,
    StateTuple,
    TaskCall,
)
from conveyor.metadata.registry import get_store
from conveyor.metadata.schema import BUSY_TIMEOUT_MS, MIGRATIONS
from conveyor.metadata.sqlite import SQLiteStore
from conveyor.metadata.urls import masked, scheme_of
from conveyor.metadata.writer import RunWriter

__all__ = [
    "BUSY_TIMEOUT_MS",
    "Batch",
    "BatchTarget",
    "FLOW_RUN_COLUMNS",
    "MIGRATIONS",
    "RESULT_RECORD_COLUMNS",
    "STATE_COLUMNS",
    "TASK_RUN_COLUMNS",
    "FlowRunOrigin",
    "MetadataStore",
    "MetadataWriter",
    "Row",
    "RunLabels",
    "RunWriter",
    "SQLiteStore",
    "StateTuple",
    "TaskCall",
    "canonical_json",
    "document_id",
    "get_store",
    "masked",
    "new_id",
    "scheme_of",
    "shape",
]
