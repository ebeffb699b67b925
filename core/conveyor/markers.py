"""The project's name and its pluggy markers: the leaf every plugin module imports.

    from conveyor import hookimpl          # the same object as conveyor.markers.hookimpl

May import: pluggy only.
"""

from __future__ import annotations

import pluggy

#: The pluggy project name; also the entry-point group plugins are found in.
PROJECT_NAME = "conveyor"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
