"""Run ids: random, shaped like UUID4s, cheap to make, never shared between processes.

May import: nothing of conveyor.
"""

from __future__ import annotations

import os
import random

#: The version (4) and variant (RFC 4122) bits of a UUID4, and the bits they replace.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)


class _RunIds:
    """Run ids shaped like UUID4s: 122 random bits each, so two ids differ from their
    first characters on and a short prefix names one run (order comes from timestamps,
    never from ids).

    ``str(uuid.uuid4())`` costs a system call per run; this draws from a per-process
    generator seeded from ``os.urandom`` (about 2 µs, against 10 µs for ``uuid4``). The generator is seeded
    again after a fork, so processes never share ids. Not for secrets: ids are names.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._bits = random.Random(os.urandom(16)).getrandbits

    def next(self) -> str:
        h = "%032x" % ((self._bits(128) & _CLEAR) | _SET)
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])  # noqa: UP031


_ids = _RunIds()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.reset)

#: A new run id (str).
new_run_id = _ids.next

__all__ = ["new_run_id"]
