"""Run ids: shaped like UUIDs, cheap to make, never shared between processes.

May import: nothing of conveyor.
"""

from __future__ import annotations

import itertools
import os
import uuid


class _RunIds:
    """Run ids shaped like UUIDs: 80 random bits per process, then a counter.

    ``str(uuid.uuid4())`` costs a system call per run; this costs a counter step. The
    random part is drawn again after a fork, so processes never share ids.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        prefix = uuid.uuid4().hex[:20]
        self._head = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-{prefix[16:20]}-"
        self._count = itertools.count(int.from_bytes(os.urandom(3), "big") << 24)

    def next(self) -> str:
        return f"{self._head}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


_ids = _RunIds()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.reset)

#: A new run id (str).
new_run_id = _ids.next

__all__ = ["new_run_id"]
