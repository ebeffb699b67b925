"""Metadata database URLs: which backend a location names, and a URL safe to print.

A location is a URL (``scheme://...``) or a plain path (a SQLite file). :func:`scheme_of`
says which; :func:`masked` replaces a URL's password (and any ``password=`` query value)
with ``***`` so messages, logs and ``repr`` never show it; :func:`sqlite_path` is the file
of a ``sqlite://`` URL.

May import: the standard library.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")
_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&;\s]*")
MASK = "***"


def scheme_of(location: str) -> str | None:
    """The URL scheme of ``location`` in lower case, or None for a plain path."""
    found = _SCHEME.match(location)
    return found.group(1).lower() if found else None


def masked(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) masked."""
    if scheme_of(url) is None:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _at, host = netloc.rpartition("@")
            name, colon, password = user.partition(":")
            if colon and password:
                user = f"{name}:{MASK}"
            netloc = f"{user}@{host}"
        return _PASSWORD_PARAM.sub(r"\g<1>" + MASK, urlunsplit(parts._replace(netloc=netloc)))
    except ValueError:  # not parseable: show the scheme only, never the rest
        return f"{scheme_of(url)}://{MASK}"


def sqlite_path(location: str) -> Path:
    """The file a SQLite location names: ``sqlite:///abs/path.db``, ``sqlite://rel.db``, a path."""
    if scheme_of(location) == "sqlite":
        location = location[len("sqlite://"):]
    return Path(location).expanduser()


__all__ = ["MASK", "masked", "scheme_of", "sqlite_path"]
