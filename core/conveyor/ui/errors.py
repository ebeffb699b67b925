"""The errors a page answers with a message instead of its content (never a traceback)."""

from __future__ import annotations


class PageError(Exception):
    """A page that cannot be shown: ``status`` (HTTP), a short ``title`` and the message."""

    status = 500
    title = "Something went wrong"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PageError):
    """An unknown id: no such run, result or page."""

    status = 404
    title = "Not found"


class Damaged(PageError):
    """A record that is there but cannot be read back (damaged JSON, a bad reference...)."""

    status = 422
    title = "Damaged record"


class BadRequest(PageError):
    """A filter, cursor or parameter that makes no sense."""

    status = 400
    title = "Bad request"


class Unavailable(PageError):
    """A stored payload whose storage cannot be rebuilt or reached from this server."""

    status = 503
    title = "Storage unavailable"


class Untrusted(PageError):
    """A reference whose signature is missing where required, or wrong (see docs/security.md)."""

    status = 403
    title = "Untrusted result"


class Unauthorized(PageError):
    """No token, or the wrong one."""

    status = 401
    title = "Token needed"


def first_line(exc: BaseException) -> str:
    """An exception as one line: its message's first line, or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "BadRequest", "Damaged", "NotFound", "PageError", "Unauthorized", "Unavailable", "Untrusted",
    "first_line",
]
