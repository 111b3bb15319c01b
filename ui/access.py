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
from collections.abc import Iterable

from rag.errors import RagError

AUTH_ENV = "NEWSQA_AUTH"
API_TOKEN_ENV = "NEWSQA_API_TOKEN"

Login = tuple[str, str]


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
