"""Naming classes and functions by an importable path, and finding them again.

A class is recorded as ``"module:qualname"``; it must be importable under that name in
the process that reads the value, so classes defined inside functions are refused when
writing, not discovered missing when reading.
"""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

_lock = threading.Lock()
_paths: dict[type, str | None] = {}


def find(path: str) -> Any:
    """The object at ``"module:qualname"`` or ``"module.attr"``; raises LookupError."""
    if ":" in path:
        module_name, _, qualname = path.partition(":")
    else:
        module_name, _, qualname = path.rpartition(".")
    if not module_name or not qualname:
        raise LookupError(f"{path!r} is not a dotted path such as 'package.module:name'")
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise LookupError(f"module {module_name!r} cannot be imported ({type(exc).__name__}: {exc})") from exc
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LookupError(f"module {module_name!r} has no {qualname!r}") from None
    return obj


def class_path(cls: type) -> str | None:
    """``"module:qualname"`` of ``cls`` when that path finds ``cls`` again, else None."""
    with _lock:
        if cls in _paths:
            return _paths[cls]
    path: str | None = f"{cls.__module__}:{cls.__qualname__}"
    if "<locals>" in cls.__qualname__:
        path = None
    else:
        try:
            if find(path) is not cls:  # type: ignore[arg-type]
                path = None
        except LookupError:
            path = None
    with _lock:
        _paths[cls] = path
    return path
