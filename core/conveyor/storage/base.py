"""The base class of every storage block, and the rules every storage key obeys.

A block is an attrs class whose fields are its configuration: what ``save()`` stores in
the metadata database and what a result reference uses to rebuild it. Fields made with
:func:`secret_field` are never shown in ``repr``, logs, the CLI or error messages. The
classes themselves come from plugins; looking one up by type is
:mod:`conveyor.filesystems`' job, not this module's.

May import: conveyor.exceptions, conveyor.storage.saved (saving and loading by name).
"""

from __future__ import annotations

import abc
import contextlib
import functools
import inspect
import io
import os
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any, BinaryIO, ClassVar

import attrs

from conveyor.exceptions import ConfigurationError, InvalidKeyError, ResultNotFoundError
from conveyor.storage import saved

SECRET = "conveyor_secret"


def secret_field(**kwargs: Any) -> Any:
    """An attrs field holding a secret: hidden from repr and from every display."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata[SECRET] = True
    return attrs.field(repr=False, metadata=metadata, **kwargs)


def normalize_key(path: str | os.PathLike[str], *, block: object = None) -> str:
    """Check that ``path`` is a relative key that stays inside its block; return it clean.

    A key is text or an ``os.PathLike`` that gives text (``Path("folder") / "x.txt"``);
    the rules are the same for both. Refuses empty keys, absolute paths (``/x``,
    ``C:\\x``) and keys that climb out with ``..``. Backslashes are treated as
    separators; empty and ``.`` segments are dropped. ``block`` is named in the error
    (its repr is only computed when there is one).
    """
    given = path
    if not isinstance(path, str) and isinstance(path, os.PathLike):
        path = os.fspath(path)  # bytes from a bytes path are refused below, as bytes are
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise InvalidKeyError(
            f"storage key {given!r}{_for(block)} is empty or not text; give a relative path "
            f"such as 'results/abc'"
        )
    candidate = path.replace("\\", "/") if "\\" in path else path
    if candidate[0] == "/" or (len(candidate) > 1 and candidate[1] == ":"):
        raise InvalidKeyError(
            f"storage key {given!r}{_for(block)} is absolute; keys are relative to the "
            f"block's base path, e.g. 'results/abc'"
        )
    parts = candidate.split("/")
    if "" in parts or "." in parts or ".." in parts:
        parts = [p for p in parts if p not in ("", ".")]
        if ".." in parts or not parts:
            raise InvalidKeyError(
                f"storage key {given!r}{_for(block)} climbs out of the block's base path "
                f"with '..' (or names nothing); use a key below it"
            )
        return "/".join(parts)
    return candidate


def _for(block: object) -> str:
    return f" for {block!r}" if block is not None else ""


class StorageBlock(abc.ABC):
    """Base class of every storage block.

    A subclass sets ``block_type`` and defines :meth:`write_path` and :meth:`read_path`;
    that makes it complete. Streaming (:meth:`open_write`, :meth:`open_read`),
    :meth:`exists` and :meth:`delete` have defaults built on those two, which a block
    overrides when it can do better.
    """

    block_type: ClassVar[str]

    @abc.abstractmethod
    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` at key ``path`` atomically; return where it went (for display)."""

    @abc.abstractmethod
    def read_path(self, path: str) -> bytes:
        """Return the bytes at key ``path``; a missing key raises ResultNotFoundError."""

    @contextlib.contextmanager
    def open_write(self, path: str, *, metadata: dict[str, str] | None = None) -> Iterator[BinaryIO]:
        """A binary file to write key ``path``; the key appears only if the block exits cleanly.

        ``metadata`` (optional, see :func:`accepts_metadata`): text to keep with the object
        where the storage can (S3 user metadata). The caller may add entries to the dict
        until the ``with`` block exits (conveyor adds the checksum and size once the payload
        is written), so a block reads it when it commits. Here it is handed to
        :meth:`write_path` when that takes it, and dropped otherwise.
        """
        buffer = io.BytesIO()
        yield buffer
        content = buffer.getbuffer().tobytes()
        if metadata is not None and accepts_metadata(self.write_path):
            self.write_path(path, content, metadata=metadata)  # type: ignore[call-arg]
        else:
            self.write_path(path, content)

    @contextlib.contextmanager
    def open_read(self, path: str) -> Iterator[BinaryIO]:
        """A binary file to read key ``path``."""
        yield io.BytesIO(self.read_path(path))

    def exists(self, path: str) -> bool:
        """Whether key ``path`` holds a value."""
        try:
            self.read_path(path)
        except (ResultNotFoundError, FileNotFoundError):
            return False
        return True

    def delete_path(self, path: str) -> None:
        """Remove key ``path``; a key that does not exist is not an error.

        Optional: ``conveyor results gc`` and ``runs rm --results`` need it, and say so
        (naming the block type) for a block that does not offer it. A block written
        before it existed may implement :meth:`delete` instead.
        """
        if type(self).delete is not StorageBlock.delete:
            self.delete(path)
            return
        raise NotImplementedError(
            f"storage block {self.block_type!r} cannot delete keys (it has no delete_path)"
        )

    def delete(self, path: str) -> None:
        """The same as :meth:`delete_path` (its older name)."""
        self.delete_path(path)

    def list_paths(self, prefix: str = "") -> Iterator[str]:
        """The keys that start with ``prefix`` (a string prefix: ``"flow/run-1/"`` lists
        that folder), in no particular order; conveyor's own staging files are not keys.

        Optional: a block that cannot list raises ``NotImplementedError`` (the default).
        """
        raise NotImplementedError(
            f"storage block {self.block_type!r} cannot list keys (it has no list_paths)"
        )

    def fingerprint(self, path: str) -> object | None:
        """A cheap token that changes whenever key ``path`` is rewritten or removed.

        Lets conveyor reuse a value it has already read and verified in this process
        (a cache hit within a flow run) without reading it again. ``None`` (the default)
        means the block cannot tell cheaply, so the value is always read and verified.
        A block that implements it raises ``ResultNotFoundError`` for a missing key.
        """
        return None

    def uri(self, path: str) -> str | None:
        """The full URI of key ``path`` (``file:///...``, ``s3://bucket/...``), or None.

        Optional: None (the default) means the block has no URI to offer, and conveyor
        shows :meth:`describe` instead (``conveyor results ls``, ``results show``). Only
        names the place: the key need not exist, and nothing is read.
        """
        return None

    def describe(self, path: str | None = None) -> str:
        """Where ``path`` lives, for people (``s3://bucket/prefix/key``, a file path…)."""
        shown = ", ".join(f"{k}={v!r}" for k, v in self.public_config().items())
        where = f"{self.block_type}({shown})"
        return f"{where}:{path}" if path else where

    # -- configuration ----------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The block's configuration: its attrs fields (secrets included)."""
        if not attrs.has(type(self)):
            return {}
        fields = attrs.fields(type(self))  # type: ignore[arg-type]  # attrs.has() checked above
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields if f.init}

    def public_config(self) -> dict[str, Any]:
        """The configuration with secret fields shown as ``'********'`` when set."""
        shown = self.config()
        for name in secret_field_names(type(self)):
            if shown.get(name) is not None:
                shown[name] = "********"
        return shown

    def to_dict(self) -> dict[str, Any]:
        return {"block_type": self.block_type, **self.config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StorageBlock:
        """Rebuild a block from :meth:`config`; unknown fields are refused."""
        known = {f.name for f in attrs.fields(cls) if f.init} if attrs.has(cls) else set()
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigurationError(
                f"block type {cls.block_type!r} has no field(s) {', '.join(map(repr, unknown))}; "
                f"its fields are: {', '.join(sorted(known)) or 'none'}"
            )
        return cls(**config)

    # -- saved blocks -----------------------------------------------------------------

    def save(self, name: str, overwrite: bool = False) -> str:
        """Save this configuration as ``"<block_type>/<name>"``; return the slug."""
        return saved.save_block(self, name, overwrite=overwrite)

    @classmethod
    def load(cls, name: str) -> StorageBlock:
        """Load the block of this type saved as ``name``."""
        return cls.from_config(saved.load_config(cls.block_type, name, cls.__name__))


def offers(block: StorageBlock, operation: str) -> bool:
    """Whether ``block`` implements the optional ``"delete_path"`` or ``"list_paths"``."""
    cls = type(block)
    if operation == "delete_path":
        return cls.delete_path is not StorageBlock.delete_path or cls.delete is not StorageBlock.delete
    if operation == "list_paths":
        return cls.list_paths is not StorageBlock.list_paths
    raise ValueError(f"unknown storage operation {operation!r}")


def accepts_metadata(method: Any) -> bool:
    """Whether a block's ``open_write`` / ``write_path`` takes the ``metadata`` keyword.

    A block says so by taking a ``metadata`` parameter (or ``**kwargs``), or explicitly
    with a ``accepts_metadata`` attribute on the method; third-party blocks that take
    neither are called exactly as before (without it).
    """
    func = getattr(method, "__func__", method)
    return _accepts_metadata(func)


@functools.cache
def _accepts_metadata(func: Any) -> bool:
    declared = getattr(func, "accepts_metadata", None)
    if declared is not None:
        return bool(declared)
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        (p.name == "metadata" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        or p.kind is p.VAR_KEYWORD
        for p in params
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    return value


def secret_field_names(cls: type) -> list[str]:
    if not attrs.has(cls):
        return []
    return [f.name for f in attrs.fields(cls) if f.metadata.get(SECRET)]


__all__ = [
    "SECRET", "StorageBlock", "accepts_metadata", "normalize_key", "offers", "secret_field",
    "secret_field_names",
]
