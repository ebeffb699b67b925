"""``LocalFileSystem``: results in a folder of the local file system."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import ClassVar

import attrs

from conveyor.exceptions import ResultNotFoundError
from conveyor.filesystems import StorageBlock, normalize_key


@attrs.frozen
class LocalFileSystem(StorageBlock):
    """Store results under ``basepath`` (relative paths resolve against the working directory)."""

    block_type: ClassVar[str] = "local-file-system"

    basepath: str = attrs.field(converter=str)

    def _full(self, path: str) -> Path:
        return Path(self.basepath).expanduser().absolute() / normalize_key(path, block=self)

    def write_path(self, path: str, content: bytes) -> str:
        full = self._full(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=full.parent, prefix=f".{full.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, full)
        except BaseException:
            with __import__("contextlib").suppress(OSError):
                os.unlink(tmp)
            raise
        return str(full)

    def read_path(self, path: str) -> bytes:
        full = self._full(path)
        try:
            return full.read_bytes()
        except FileNotFoundError:
            raise ResultNotFoundError(
                f"{self!r} has no key {path!r} (looked for {full})"
            ) from None
