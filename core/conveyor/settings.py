"""Settings, read from the environment each time they are asked for.

| variable | meaning | default |
|---|---|---|
| ``CONVEYOR_HOME`` | folder of the metadata database | ``~/.conveyor`` |
| ``CONVEYOR_RESULTS_DEFAULT_SERIALIZER`` | serializer used when none is configured | ``pickle`` |
| ``CONVEYOR_RESULTS_PERSIST_BY_DEFAULT`` | persist results no rule decided on | ``false`` |
| ``CONVEYOR_LOCAL_STORAGE_PATH`` | folder of the default result storage | ``.conveyor-results`` in the working directory |
| ``CONVEYOR_DISABLE_PLUGINS`` | comma-separated entry-point names not to load | empty |
| ``CONVEYOR_LOGGING_LEVEL`` | level of conveyor's log lines | ``INFO`` |

Reading them fresh (no import-time caching) lets tests and users change the
environment between runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from conveyor.exceptions import SettingsError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(
        f"{name}={raw!r} is not a boolean; use one of: {', '.join(_TRUE + _FALSE[:-1])}"
    )


def _path(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser() if raw else default


@attrs.frozen
class Settings:
    """A snapshot of conveyor's settings."""

    home: Path
    default_serializer: str
    persist_by_default: bool
    local_storage_path: Path
    disabled_plugins: frozenset[str]
    logging_level: str

    @property
    def database_path(self) -> Path:
        return self.home / "conveyor.db"


def get_settings() -> Settings:
    """Read every setting from the environment, validating each."""
    serializer = os.environ.get("CONVEYOR_RESULTS_DEFAULT_SERIALIZER", "").strip() or "pickle"
    level = os.environ.get("CONVEYOR_LOGGING_LEVEL", "").strip().upper() or "INFO"
    if level not in _LEVELS:
        raise SettingsError(
            f"CONVEYOR_LOGGING_LEVEL={level!r} is not a logging level; "
            f"use one of: {', '.join(_LEVELS)}"
        )
    disabled = os.environ.get("CONVEYOR_DISABLE_PLUGINS", "")
    return Settings(
        home=_path("CONVEYOR_HOME", Path.home() / ".conveyor"),
        default_serializer=serializer,
        persist_by_default=_bool("CONVEYOR_RESULTS_PERSIST_BY_DEFAULT", False),
        local_storage_path=_path("CONVEYOR_LOCAL_STORAGE_PATH", Path.cwd() / ".conveyor-results"),
        disabled_plugins=frozenset(p.strip() for p in disabled.split(",") if p.strip()),
        logging_level=level,
    )
