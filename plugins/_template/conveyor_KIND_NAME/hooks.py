"""Hook implementations of conveyor-KIND-NAME."""

from __future__ import annotations

from conveyor import hookimpl

from conveyor_KIND_NAME.NAME import ClassName


@hookimpl
def conveyor_register_KINDS():
    return [ClassName]
