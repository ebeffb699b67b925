"""Who may read the pages: the token gate, the ``Host`` check, and the security headers.

With a token, a request is let in when it carries it: ``?token=`` once (answered with a
redirect that drops it from the address and sets an ``HttpOnly``, ``SameSite=Strict``
cookie), then the cookie, or an ``Authorization: Bearer`` header for scripts. Without a
token (loopback only), a request is let in only when its ``Host`` is a loopback name, so
a page on another site cannot reach the server through a DNS name of its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.datastructures import URL, Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.ui.config import TOKEN_COOKIE, UIConfig
from conveyor.ui.errors import Unauthorized

#: Sent with every answer: no script runs, nothing is framed, no address leaks the token.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:4200`` -> ``[::1]``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Gate:
    """ASGI middleware: lets a request in or answers it with ``deny`` (a 401 or 400 page)."""

    def __init__(
        self, app: ASGIApp, config: UIConfig, deny: Callable[[Request, Exception], Response]
    ) -> None:
        self.app = app
        self.token = config.token
        self.hosts = {h.lower() for h in config.allowed_hosts}
        self.deny = deny

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        response = self.check(scope)
        if response is not None:
            await response(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)

    def check(self, scope: Scope) -> Response | None:
        """None to let the request in, else the answer to send."""
        request = Request(scope)
        if self.token is None:
            host = host_name(Headers(scope=scope).get("host", ""))
            if "*" in self.hosts or host in self.hosts:
                return None
            return self.deny(request, Unauthorized(
                f"this server answers only to {', '.join(sorted(self.hosts))} (the Host was "
                f"{host!r}); open it at http://127.0.0.1:<port>/, or start `conveyor ui` "
                f"with --token to serve other names"
            ))
        given = request.query_params.get("token")
        if given is not None:
            if not _same(given, self.token):
                return self.deny(request, Unauthorized(
                    "the token in the address is not this server's; use the address "
                    "`conveyor ui` printed"
                ))
            target = URL(scope=scope).remove_query_params("token")
            location = target.path + (f"?{target.query}" if target.query else "")
            redirect = RedirectResponse(location, status_code=303)
            redirect.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return redirect
        bearer = request.headers.get("authorization", "")
        if _same(request.cookies.get(TOKEN_COOKIE), self.token) or (
            bearer.startswith("Bearer ") and _same(bearer[7:].strip(), self.token)
        ):
            return None
        return self.deny(request, Unauthorized(
            "this server needs its token: open the address `conveyor ui` printed (it ends "
            "with ?token=...), or send 'Authorization: Bearer <token>'"
        ))


__all__ = ["SECURITY_HEADERS", "Gate", "host_name"]
