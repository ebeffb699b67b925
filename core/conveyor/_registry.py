"""Shared helpers for the name → class registries of serializers and storage blocks."""

from __future__ import annotations

from typing import Any

from conveyor.exceptions import UnknownNameError

#: Classes that live in plugin distributions of ours, so a missing one gets a hint.
KNOWN_PROVIDERS: dict[str, str] = {
    # class name or registry name -> distribution that provides it
    "LocalFileSystem": "conveyor-storage-local",
    "local-file-system": "conveyor-storage-local",
    "S3": "conveyor-storage-s3 (pip install 'conveyor[s3]')",
    "s3": "conveyor-storage-s3 (pip install 'conveyor[s3]')",
    "JSONSerializer": "conveyor-serializer-json",
    "json": "conveyor-serializer-json",
    "PickleSerializer": "conveyor-serializer-pickle",
    "pickle": "conveyor-serializer-pickle",
}


def unknown_name(kind: str, name: str, available: list[str]) -> UnknownNameError:
    """Build the one error for an unknown registry name, with an install hint."""
    listed = ", ".join(sorted(available)) or "none"
    message = f"unknown {kind} {name!r}; available: {listed}"
    hint = KNOWN_PROVIDERS.get(name)
    if hint:
        message += f"; install {hint} to use it"
    return UnknownNameError(message)


def class_by_attribute(module: str, attr: str, classes: dict[str, type]) -> Any:
    """Module ``__getattr__`` support: find a registered class by its Python name."""
    for cls in classes.values():
        if cls.__name__ == attr:
            return cls
    hint = KNOWN_PROVIDERS.get(attr)
    if hint:
        raise ImportError(
            f"cannot import name {attr!r} from {module!r}: it is provided by the plugin "
            f"{hint}, which is not installed (or is disabled by CONVEYOR_DISABLE_PLUGINS)"
        )
    raise AttributeError(f"module {module!r} has no attribute {attr!r}")
