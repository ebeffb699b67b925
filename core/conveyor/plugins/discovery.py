"""Finding the installed entry points of group ``conveyor`` without parsing any metadata.

Start-up needs only each entry point's name and ``module:attr``: they are in the
``entry_points.txt`` of each distribution's ``*.dist-info`` (or ``*.egg-info``) folder on
``sys.path``. Reading those few small files costs far less than ``importlib.metadata``,
whose import pulls in the ``email`` package and whose distribution names come from parsing
every ``METADATA`` file. The distribution's display name and version are read from its
metadata (with ``importlib.metadata``) only when asked for: by ``conveyor plugins`` and
in error messages. Like ``importlib.metadata``, the first distribution of a name on
``sys.path`` wins; a ``sys.path`` entry that is not a folder (a zip) is searched with
``importlib.metadata`` itself.

May import: the standard library only.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

_NORMALIZE = re.compile(r"[-_.]+")


def _normalized(name: str) -> str:
    return _NORMALIZE.sub("_", name).lower()


class FoundEntryPoint:
    """One entry point found on disk: ``name``, ``value`` (``module:attr``), ``group``.

    ``dist`` gives the distribution (``importlib.metadata.Distribution``), opened on first
    use; ``load()`` imports the object, as ``importlib.metadata.EntryPoint.load`` does.
    """

    __slots__ = ("_dist", "folder", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, folder: str) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.folder = folder
        self._dist: Any = None

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    @property
    def attr(self) -> str:
        return self.value.partition(":")[2].partition("[")[0].strip()

    def load(self) -> Any:
        obj: Any = importlib.import_module(self.module)
        for part in filter(None, self.attr.split(".")):
            obj = getattr(obj, part)
        return obj

    @property
    def dist(self) -> Any:
        if self._dist is None:
            import importlib.metadata  # lazy: metadata is parsed only when a name is shown
            import pathlib  # lazy: as above (it imports urllib.parse, ipaddress, fnmatch)

            self._dist = importlib.metadata.PathDistribution(pathlib.Path(self.folder))
        return self._dist

    def __repr__(self) -> str:
        return f"FoundEntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"


def parse_entry_points(text: str, group: str) -> list[tuple[str, str]]:
    """``[(name, value)]`` of ``group`` in an ``entry_points.txt`` (an INI file)."""
    out: list[tuple[str, str]] = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if current == group and "=" in line:
            name, _, value = line.partition("=")
            out.append((name.strip(), value.strip()))
    return out


def _metadata_folders(entry: str) -> Iterator[tuple[str, str]]:
    """``(normalized distribution name, folder)`` of each distribution in a folder."""
    try:
        names = sorted(os.listdir(entry))
    except OSError:
        return
    for name in names:
        stem, dot, suffix = name.rpartition(".")
        if dot and suffix in ("dist-info", "egg-info"):
            yield _normalized(stem.partition("-")[0]), os.path.join(entry, name)


def find_entry_points(group: str, path: list[str] | None = None) -> list[Any]:
    """The entry points of ``group`` installed on ``path`` (default ``sys.path``)."""
    seen: set[str] = set()
    found: list[Any] = []
    for entry in sys.path if path is None else path:
        folder = entry or os.getcwd()
        if not os.path.isdir(folder):
            found.extend(_from_archive(entry, group, seen))
            continue
        for dist_name, meta in _metadata_folders(folder):
            if dist_name in seen:
                continue
            seen.add(dist_name)
            try:
                with open(os.path.join(meta, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            found.extend(FoundEntryPoint(n, v, group, meta) for n, v in parse_entry_points(text, group))
    return found


def _from_archive(entry: str, group: str, seen: set[str]) -> list[Any]:
    if not os.path.isfile(entry):
        return []
    import importlib.metadata  # lazy: only for a zip on sys.path (rare)

    out: list[Any] = []
    for dist in importlib.metadata.distributions(path=[entry]):
        name = _normalized(dist.metadata["Name"] or "")
        if name in seen:
            continue
        seen.add(name)
        out.extend(ep for ep in dist.entry_points if ep.group == group)
    return out


__all__ = ["FoundEntryPoint", "find_entry_points", "parse_entry_points"]
