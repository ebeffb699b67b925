"""One store per database file per process: :func:`get_store`, and what a fork resets."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.metadata.sqlite import SQLiteStore
from conveyor.settings import get_settings

if TYPE_CHECKING:
    from conveyor.metadata.interface import MetadataStore

_stores: dict[Path, SQLiteStore] = {}
_stores_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked child must not use its parent's connections or writer thread (it has none)."""
    global _stores_lock
    _stores_lock = threading.Lock()
    for store in _stores.values():
        store._local = threading.local()
        store._init_lock = threading.Lock()
        store._writer = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_store(path: str | os.PathLike[str] | None = None) -> MetadataStore:
    """The store for ``path`` (default: ``$CONVEYOR_HOME/conveyor.db``), one per file per process."""
    if path is None:
        path = get_settings().database_path
    key = Path(path).resolve()
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = SQLiteStore(key)
        return store
