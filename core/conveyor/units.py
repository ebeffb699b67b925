"""How conveyor writes sizes for people (log lines, the CLI, the UI).

May import: nothing.
"""

from __future__ import annotations


def format_size(n: int) -> str:
    """``512 B``, ``1.5 KiB``, ``2.0 MiB``, ``3.1 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


__all__ = ["format_size"]
