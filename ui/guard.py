"""Refuse requests that a web page on another site makes to the local server.

Gradio's CORS middleware only withholds ``Access-Control-Allow-Origin`` from other origins: the
request itself still runs. A page on ``https://evil.example`` can therefore upload files with
a form post (no preflight), and through DNS rebinding (``evil.example`` re-resolved to
127.0.0.1) its requests even count as same-origin and read every answer and article.
``LocalGuard`` closes both holes for every route, Gradio's and the REST API's:

* served on a loopback address, a request must name a loopback host (``Host: localhost``,
  ``127.0.0.1`` or ``[::1]``), so a rebound name is refused;
* a request that carries an ``Origin`` (browsers send one on every cross-site request) must
  come from the page's own origin. Scripts and ``gradio_client`` send none and are not affected.

A refusal is plain text, or JSON like the errors of the door it was meant for: ``{"error":
message}`` on ``/api/`` and ``/mcp``, OpenAI's ``{"error": {"message", "type", "code"}}`` on
``/v1/``.

Example:
    >>> from starlette.middleware import Middleware
    >>> middleware = [Middleware(LocalGuard, host="127.0.0.1")]
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_OPENAI_TYPES = {400: "invalid_request_error", 403: "permission_error"}
_OPENAI_CODES = {400: "invalid_host", 403: "cross_origin"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) can only be reached from this machine."""
    host = host.strip("[]").casefold()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(authority: str) -> str:
    """``example.org`` from ``example.org:7860`` (and ``::1`` from ``[::1]:7860``)."""
    try:
        return (urlsplit(f"//{authority}").hostname or "").casefold()
    except ValueError:
        return ""


def _authority(value: str) -> str:
    """``host:port`` in lower case, with the default port of the scheme left out."""
    return value.strip().casefold().removesuffix(":80").removesuffix(":443")


class LocalGuard:
    """ASGI middleware: a loopback ``Host`` on a loopback server, and same-origin browsers."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1") -> None:
        """Wrap ``app``, served on the interface ``host``."""
        self.app = app
        self.check_host = is_loopback(host)

    async def __call__(self, scope: Scope, receive: ASGIApp, send: ASGIApp) -> None:
        """Pass the request on, or answer 400 (bad host) / 403 (other origin) at once."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").casefold(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        problem = self.problem(headers)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, message = problem
        logger.warning("refused %s %s: %s", scope.get("method", "WS"), scope.get("path"), message)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        path = scope.get("path", "")
        if path.startswith("/v1/"):  # the OpenAI-compatible API's errors (ui.openai_api)
            error = {"message": message, "type": _OPENAI_TYPES[status], "param": None}
            body = json.dumps({"error": {**error, "code": _OPENAI_CODES[status]}}).encode()
            kind = b"application/json"
        elif path.startswith("/api/") or path == "/mcp":  # like every REST API error
            body, kind = json.dumps({"error": message}).encode(), b"application/json"
        else:
            body, kind = message.encode(), b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def problem(self, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, reason) if the request must be refused, else None."""
        host = headers.get("host", "")
        if self.check_host and not is_loopback(_hostname(host)):
            return 400, "Invalid Host header: this server only answers to localhost."
        origin = headers.get("origin")
        if origin is None:
            return None
        try:
            parts = urlsplit(origin)
        except ValueError:
            parts = None
        own = {_authority(h) for h in (host, headers.get("x-forwarded-host", "")) if h}
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            return 403, "Cross-origin request refused."
        if _authority(parts.netloc) not in own:
            return 403, "Cross-origin request refused."
        return None
