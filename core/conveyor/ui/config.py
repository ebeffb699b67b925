"""What ``conveyor ui`` was started with, and whether its optional dependencies are there.

Imports nothing beyond the standard library and attrs, so the ``conveyor`` command can
register ``conveyor ui`` without loading Starlette, uvicorn or Jinja2 (about 150 ms at
every start); they are imported when the server starts.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import secrets

import attrs

#: The ``ui`` extra: import name -> distribution.
DEPENDENCIES = {"starlette": "starlette", "uvicorn": "uvicorn", "jinja2": "Jinja2"}
INSTALL_COMMAND = "pip install --find-links dist 'conveyor[ui]'"
#: The cookie that carries the token after the first visit with ``?token=``.
TOKEN_COOKIE = "conveyor_ui_token"
#: Host names that mean this machine only.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module set to None, or without a spec
        return False


def missing_dependencies() -> list[str]:
    """The distributions of the ``ui`` extra that are not installed."""
    return [dist for name, dist in DEPENDENCIES.items() if not _installed(name)]


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` serves this machine only (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


@attrs.frozen
class UIConfig:
    """How the browser is served.

    :ivar host: the address bound.
    :ivar port: the port bound.
    :ivar token: the token every request must carry (``?token=`` once, then the cookie),
        or None: no token (loopback only).
    :ivar allowed_hosts: ``Host`` headers answered when there is no token (a page on
        another site cannot reach a loopback server through a name of its own);
        ``["*"]`` for any.
    """

    host: str = "127.0.0.1"
    port: int = 4200
    token: str | None = None
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "[::1]")

    def url(self) -> str:
        """The address to open, with the token when there is one."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{query}"


_current = [UIConfig()]


def configure(config: UIConfig) -> None:
    """Set the configuration :func:`conveyor.ui.app.app_from_config` builds the app with."""
    _current[0] = config


def current() -> UIConfig:
    """The configuration set by :func:`configure` (the defaults before)."""
    return _current[0]


__all__ = [
    "DEPENDENCIES",
    "INSTALL_COMMAND",
    "TOKEN_COOKIE",
    "UIConfig",
    "configure",
    "current",
    "is_loopback",
    "missing_dependencies",
    "new_token",
]
