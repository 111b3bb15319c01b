"""Who may use the served interfaces: the chat's logins and the REST API's token.

Both come from the environment, never from a config file: ``$NEWSQA_AUTH`` holds logins
("user:pass", several separated by commas) for the chat, also accepted by the API as HTTP
Basic auth; ``$NEWSQA_API_TOKEN`` holds a token the API requires as
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Callable, Iterable, Sequence

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.errors import RagError

AUTH_ENV = "NEWSQA_AUTH"
API_TOKEN_ENV = "NEWSQA_API_TOKEN"

Login = tuple[str, str]
UNAUTHORIZED = "A valid API token is required: Authorization: Bearer <token>."


def auth_from_env() -> list[Login] | None:
    """Logins from ``$NEWSQA_AUTH`` ("user:pass", several separated by commas), if set."""
    raw = os.environ.get(AUTH_ENV, "").strip()
    if not raw:
        return None
    pairs = []
    for item in raw.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise RagError(f"${AUTH_ENV} must look like user:password (several: a:x,b:y).")
        pairs.append((user, password))
    return pairs


def api_token_from_env() -> str:
    """The API token from ``$NEWSQA_API_TOKEN`` ("" when none is required)."""
    return os.environ.get(API_TOKEN_ENV, "")


def token_ok(given: str, token: str) -> bool:
    """Whether a bearer token matches (in constant time)."""
    return bool(token) and hmac.compare_digest(given, token)


def basic_ok(value: str, logins: Iterable[Login]) -> bool:
    """Whether an HTTP Basic ``Authorization`` value names one of ``logins``."""
    try:
        given = base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return any(hmac.compare_digest(given, f"{u}:{p}".encode()) for u, p in logins)


def authorized(header: str, token: str, logins: Sequence[Login]) -> bool:
    """Whether an ``Authorization`` header passes: always when neither a token nor logins are set.

    ``Bearer <token>`` for ``$NEWSQA_API_TOKEN``, or HTTP Basic auth with one of the logins.
    """
    if not token and not logins:
        return True
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and token_ok(value.strip(), token):
        return True
    return bool(logins) and scheme.lower() == "basic" and basic_ok(value.strip(), logins)


class RequireAuth:
    """ASGI middleware: ``authorized`` on every HTTP request to ``app``, or ``refuse(401, …)``.

    For the doors that are not ``ui.api`` routes (``/v1``, ``/mcp``); ``ui.api`` checks the
    same with a FastAPI dependency.
    """

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        logins: Sequence[Login],
        refuse: Callable[[int, str], Response],
    ) -> None:
        """Wrap ``app``; ``refuse(status, message)`` makes the 401 response."""
        self.app = app
        self.token = token
        self.logins = list(logins)
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 401 with ``WWW-Authenticate: Bearer``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = ""
        for key, value in scope.get("headers") or []:
            if key.lower() == b"authorization":
                header = value.decode("latin-1")
        if authorized(header, self.token, self.logins):
            await self.app(scope, receive, send)
            return
        response = self.refuse(401, UNAUTHORIZED)
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)
