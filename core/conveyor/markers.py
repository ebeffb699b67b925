"""The project's name, its pluggy markers and :class:`ClassRef`: the leaf every plugin
module imports.

    from conveyor import hookimpl          # the same object as conveyor.markers.hookimpl
    from conveyor.markers import ClassRef  # a class named by import path, imported on first use

and :func:`lazy_attributes`, the ``__getattr__`` of a package that re-exports names lazily.

May import: pluggy only (and importlib, to import what a ClassRef names).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import pluggy

#: The pluggy project name; also the entry-point group plugins are found in.
PROJECT_NAME = "conveyor"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class ClassRef:
    """A plugin's class named by its selection name and import path, not imported yet.

    A registration hook may return these in place of classes, so that loading the plugin
    costs only its small hooks module; the class's own module (and what it imports:
    boto3, dask...) is imported when the class is first used::

        @hookimpl
        def conveyor_register_storage():
            return [ClassRef("s3", "conveyor_storage_s3.s3:S3")]

    :param name: the name the class is selected by: its ``type`` (serializer),
        ``block_type`` (storage block) or ``name`` (task runner); for a metadata backend
        the tuple of its URL ``schemes``. Checked against the class when it is imported.
    :param path: ``"package.module:ClassName"``.
    """

    __slots__ = ("name", "path")

    def __init__(self, name: str | tuple[str, ...], path: str) -> None:
        names = name if isinstance(name, tuple) else (name,)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"ClassRef name must be a non-empty string (or tuple of them); got {name!r}")
        module, colon, attr = path.partition(":") if isinstance(path, str) else ("", "", "")
        if not (module.strip() and colon and attr.strip()):
            raise ValueError(f"ClassRef path must be 'package.module:ClassName'; got {path!r}")
        self.name = name
        self.path = path.strip()

    @property
    def names(self) -> tuple[str, ...]:
        """The selection names (one, or a metadata backend's schemes)."""
        return self.name if isinstance(self.name, tuple) else (self.name,)

    @property
    def module(self) -> str:
        return self.path.partition(":")[0].strip()

    @property
    def qualname(self) -> str:
        return self.path.partition(":")[2].strip()

    @property
    def class_name(self) -> str:
        """The class's Python name (what ``from conveyor.filesystems import S3`` asks for)."""
        return self.qualname.rpartition(".")[2]

    def load(self) -> type:
        """Import the module and return the class (an ImportError or AttributeError as is)."""
        obj: object = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        if not isinstance(obj, type):
            raise TypeError(f"{self.path} is a {type(obj).__name__}, not a class")
        return obj

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassRef):
            return NotImplemented
        return (self.names, self.path) == (other.names, other.path)

    def __hash__(self) -> int:
        return hash((self.names, self.path))

    def __repr__(self) -> str:
        return f"ClassRef({self.name!r}, {self.path!r})"


def lazy_attributes(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each of ``names`` from its module on first use.

    ``names`` maps an attribute to the module defining it; a package re-exports its
    classes this way without importing them (so importing the package, or its ``hooks``
    module, stays cheap)::

        _LAZY = {"S3": "conveyor_storage_s3.s3"}
        __getattr__ = lazy_attributes(__name__, _LAZY)
    """

    def __getattr__(name: str) -> Any:
        source = names.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return getattr(importlib.import_module(source), name)

    return __getattr__


__all__ = ["PROJECT_NAME", "ClassRef", "hookimpl", "hookspec", "lazy_attributes"]
