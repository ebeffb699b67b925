"""The built-in plugins: registered on every plugin manager, before any entry point.

Each is a module of hook implementations, loaded by name exactly as an entry point's
module is, so conveyor's own behaviour goes through the same hooks as a third party's.

May import: nothing (module names only).
"""

from __future__ import annotations

#: ``(plugin name, module)`` of every built-in plugin, in registration order.
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("conveyor.policy", "conveyor.plugins.builtin_policy"),
    ("conveyor.compressed", "conveyor.serialization.hooks"),
    ("conveyor.sqlite", "conveyor.metadata.hooks"),
    ("conveyor.task-runners", "conveyor.runners.hooks"),
)

#: Names of the built-in plugins (shown as provided by the ``conveyor`` distribution).
BUILTIN_NAMES = frozenset(name for name, _module in DEFAULT_PLUGINS)
