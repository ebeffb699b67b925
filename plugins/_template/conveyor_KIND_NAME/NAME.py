"""``ClassName``: what it does, in one line.

The class this plugin provides. The skeleton is a storage block: an attrs class that
subclasses ``conveyor.filesystems.StorageBlock``, sets ``block_type`` and defines
``write_path`` and ``read_path`` (streaming, ``exists`` and saving come from the base
class). For a serializer, subclass ``conveyor.serializers.Serializer`` instead, set
``type`` and define ``dumps`` and ``loads``. docs/plugins.md says what conveyor expects
of each; the conformance suites of ``conveyor.testing`` check it.
"""

# ruff: noqa: N999 (placeholder names; stamping removes this line)
from __future__ import annotations

from typing import ClassVar

import attrs
from conveyor.filesystems import StorageBlock, normalize_key


@attrs.frozen
class ClassName(StorageBlock):
    """What it stores, and where.

    Its attrs fields are its configuration: what ``save()`` records and what rebuilds the
    block in another process (``conveyor.filesystems.secret_field()`` for secrets).
    """

    block_type: ClassVar[str] = "NAME"

    def write_path(self, path: str, content: bytes) -> str:
        """Store ``content`` under ``path``, atomically; return where it went."""
        key = normalize_key(path, block=self)
        raise NotImplementedError(f"write {len(content)} bytes under {key!r}")

    def read_path(self, path: str) -> bytes:
        """The bytes under ``path``; ``ResultNotFoundError`` when there are none."""
        key = normalize_key(path, block=self)
        raise NotImplementedError(f"read {key!r}")
