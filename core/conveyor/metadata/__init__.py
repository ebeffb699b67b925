"""The metadata database: runs, states, result references and literals, saved blocks and
block documents, the cache index. Never a result's value.

:class:`MetadataStore` (in :mod:`.interface`) is everything the rest of conveyor may ask
of a database; :class:`SQLiteStore` implements it over one SQLite file under
``CONVEYOR_HOME``; :func:`get_store` hands out one store per file per process.

Modules: ``interface`` (the protocols), ``schema`` (migrations, WAL set-up), ``sqlite``
(the store), ``writer`` (the batched writer thread), ``registry`` (``get_store``, fork
handling), ``ids`` (run and block document ids).

May import: only ``conveyor.exceptions`` and ``conveyor.settings``, and the standard
library.
"""

from __future__ import annotations

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
from conveyor.metadata.writer import RunWriter

__all__ = [
    "BUSY_TIMEOUT_MS",
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
    "new_id",
]
