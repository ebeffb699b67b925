"""ClassName: what it does, in one line."""

# ruff: noqa: N999 (placeholder names; stamping removes this line)
from conveyor_KIND_NAME.NAME import ClassName

__all__ = ["ClassName"]
