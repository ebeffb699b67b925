"""conveyor's log lines: the level setting, a handler when nothing shows logs, one line per state.

May import: conveyor.settings, conveyor.states.
"""

from __future__ import annotations

import logging

from conveyor.settings import get_settings
from conveyor.states import CRASHED, FAILED, State

logger = logging.getLogger("conveyor")

_handler_added = False


def configure_logging() -> bool:
    """Apply ``CONVEYOR_LOGGING_LEVEL``; add a stderr handler when nothing else shows logs.

    Returns the setting ``CONVEYOR_RESULTS_PERSIST_BY_DEFAULT`` read at the same time, so a
    top-level run reads the environment once.
    """
    global _handler_added
    settings = get_settings()
    logger.setLevel(settings.logging_level)
    if not _handler_added and not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | %(message)s"))
        logger.addHandler(handler)
        _handler_added = True
    return settings.persist_by_default


def log_state(kind: str, name: str, run_id: str, state: State, where: str | None = None) -> None:
    """One line for a state change (ERROR for Failed and Crashed, else INFO)."""
    level = logging.ERROR if state.type in (FAILED, CRASHED) else logging.INFO
    if not logger.isEnabledFor(level):
        return
    line = f"{kind} run {name!r} ({run_id}): {state.name}"
    if state.message:
        line += f": {state.message}"
    if where:
        line += f"; written to {where}"
    logger.log(level, line)


__all__ = ["configure_logging", "log_state", "logger"]
