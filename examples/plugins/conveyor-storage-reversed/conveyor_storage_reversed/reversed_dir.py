"""``ReversedDir``: each key a file under ``root``, its bytes stored back to front."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import ClassVar

import attrs
from conveyor.exceptions import ResultNotFoundError, StorageError
from conveyor.filesystems import StorageBlock, normalize_key


@attrs.frozen
class ReversedDir(StorageBlock):
    """Store results as files under ``root``, bytes reversed.

    ``root`` is the block's one field: it is what ``save()`` records and what a result
    reference uses to rebuild the block in another process. Defining ``write_path`` and
    ``read_path`` is all a storage block needs; streaming, ``exists`` and the saved-block
    methods come from the base class.
    """

    block_type: ClassVar[str] = "reversed-dir"

    root: str = attrs.field(converter=str)

    def _file(self, path: str) -> Path:
        # normalize_key refuses empty, absolute and climbing keys (InvalidKeyError).
        return Path(self.root).expanduser().absolute() / normalize_key(path, block=self)

    def write_path(self, path: str, content: bytes) -> str:
        target = self._file(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Atomic: write a temporary file beside the target, then rename over it.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(bytes(content)[::-1])
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            message = f"reversed-dir block at {self.root!r} could not write key {path!r}: {exc}"
            raise StorageError(message) from exc
        return str(target)

    def read_path(self, path: str) -> bytes:
        target = self._file(path)
        try:
            return target.read_bytes()[::-1]
        except FileNotFoundError:
            message = (
                f"reversed-dir block at {self.root!r} has no key {path!r} (looked for {target})"
            )
            raise ResultNotFoundError(message) from None
        except OSError as exc:
            message = f"reversed-dir block at {self.root!r} could not read key {path!r}: {exc}"
            raise StorageError(message) from exc
