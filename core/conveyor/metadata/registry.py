"""One store per database per process: :func:`get_store`, the backend a location picks,
and what a fork resets.

A location is ``CONVEYOR_DATABASE_URL`` (default: the SQLite file under
``CONVEYOR_HOME``) or what the caller passes: a plain path or ``sqlite://`` URL is the
built-in :class:`~conveyor.metadata.sqlite.SQLiteStore`; another scheme
(``postgresql://``) is the backend a plugin registered for it through
``conveyor_register_metadata_backends``; a scheme nobody registered is an error saying
which plugin to install.

May import: conveyor.plugins (the backend registry), conveyor.settings, the siblings.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from conveyor import plugins
from conveyor.exceptions import UnknownNameError
from conveyor.metadata.sqlite import SQLiteStore
from conveyor.metadata.urls import masked, scheme_of, sqlite_path
from conveyor.settings import get_settings

if TYPE_CHECKING:
    from conveyor.metadata.interface import MetadataStore

#: store by its key: a SQLite file's resolved path, or another backend's whole URL
_stores: dict[str, MetadataStore] = {}
#: the same stores by the location text they were asked for (the fast path of get_store)
_by_location: dict[str, MetadataStore] = {}
_stores_lock = threading.Lock()
#: (the settings it was found for, the store): the default store while the environment is unchanged
_default: tuple[object, MetadataStore] | None = None


def _after_fork_in_child() -> None:
    """A forked child must not use its parent's connections or writer thread (it has none)."""
    global _stores_lock
    _stores_lock = threading.Lock()
    for store in _stores.values():
        store.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _key_and_backend(location: str) -> tuple[str, type | None]:
    """The key of ``location``'s store and its backend class (None: SQLite)."""
    scheme = scheme_of(location)
    if scheme is None or scheme == "sqlite":
        return str(sqlite_path(location).resolve()), None
    try:
        backend = plugins.metadata_backends().get(scheme)
    except UnknownNameError as exc:
        raise UnknownNameError(f"metadata database {masked(location)}: {exc}") from None
    return location, backend


def get_store(location: str | os.PathLike[str] | None = None) -> MetadataStore:
    """The store of ``location`` (a URL or a path; default: ``CONVEYOR_DATABASE_URL``, else
    ``$CONVEYOR_HOME/conveyor.db``), one per database per process."""
    global _default
    if location is None:
        settings = get_settings()
        default = _default
        if default is not None and default[0] is settings:  # the same environment: the same store
            return default[1]
        text = settings.database
    else:
        text = os.fspath(location)
    store = _by_location.get(text)
    if store is not None:
        if location is None:
            _default = (settings, store)
        return store
    key, backend = _key_and_backend(text)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = SQLiteStore(key) if backend is None else backend.from_url(key)
            _stores[key] = store
        if scheme_of(text) is not None or os.path.isabs(text):  # not relative to the cwd
            _by_location[text] = store
        return store


__all__ = ["get_store"]
