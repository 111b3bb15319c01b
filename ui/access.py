"""Who may use the served interfaces: the chat's logins and the API token, in one place.

Both come from the environment, never from a config file: ``$NEWSQA_AUTH`` holds logins
("user:pass", several separated by commas) and ``$NEWSQA_API_TOKEN`` a token. ``Access``
holds both and answers the one question the door policy (``ui.policy``) asks of a
credential: whose is it? The token is accepted as ``Authorization: Bearer <token>`` and as
the password of a login (any user name), so a server with only a token still has a way
into the chat page; a login is accepted on the login page and as HTTP Basic auth.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass

from rag.errors import RagError

AUTH_ENV = "NEWSQA_AUTH"
API_TOKEN_ENV = "NEWSQA_API_TOKEN"
TOKEN_USER = "token"  # the user name of a request that shows the token

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
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def basic_ok(value: str, logins: Iterable[Login]) -> bool:
    """Whether an HTTP Basic ``Authorization`` value names one of ``logins``."""
    return Access(logins=tuple(logins)).basic_user(value) is not None


@dataclass(frozen=True)
class Access:
    """The credentials a server accepts; with none, every door is open.

    Example:
        >>> door = Access.from_env()
        >>> door.bearer_user("s3cret")  # "token" when it is the token, else None
    """

    token: str = ""
    logins: tuple[Login, ...] = ()

    @classmethod
    def from_env(cls, logins: Iterable[Login] | None = None, token: str | None = None) -> Access:
        """``$NEWSQA_API_TOKEN`` and ``$NEWSQA_AUTH`` (or the values given)."""
        chosen = auth_from_env() if logins is None else logins
        return cls(api_token_from_env() if token is None else token, tuple(chosen or ()))

    @property
    def required(self) -> bool:
        """Whether any credential is configured (then every data route needs one)."""
        return bool(self.token or self.logins)

    def bearer_user(self, given: str) -> str | None:
        """``TOKEN_USER`` if ``given`` is the token, else None."""
        return TOKEN_USER if token_ok(given, self.token) else None

    def login_user(self, user: str, password: str) -> str | None:
        """The user name if (user, password) is a login or the password is the token."""
        ok = False
        for name, secret in self.logins:  # no early exit: every login costs the same
            same_user = hmac.compare_digest(user.encode(), name.encode())
            ok |= same_user & hmac.compare_digest(password.encode(), secret.encode())
        if ok:
            return user
        return TOKEN_USER if token_ok(password, self.token) else None

    def basic_user(self, value: str) -> str | None:
        """The user of an HTTP Basic ``Authorization`` value (``user:password``), else None."""
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return self.login_user(user, password) if sep else None
