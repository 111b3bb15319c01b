"""The one door policy of ``rag serve``: every request passes it, whatever route serves it.

``Policy`` is ASGI middleware on the outermost app (``ui.server.build_server`` adds it after
the REST API, the chat and any other interface are mounted), so a route added later is
covered without being named here. In order, a request is:

1. refused if it names a foreign ``Host`` or comes from another site's page
   (``ui.guard.LocalGuard``'s rules: 400 / 403);
2. authenticated when ``Access`` holds a token or logins: ``Authorization: Bearer <token>``,
   ``Authorization: Basic`` with a login (or any user and the token as password), or the
   session cookie that ``/login`` hands out. Without one, a browser asking for a page is sent
   to ``/login`` and anything else gets 401. Only ``PUBLIC`` routes are answered
   anonymously: ``/api/health`` (without counts) and the login page itself. Wrong
   credentials are counted per client: after ``serve.login_attempts`` failures within
   ``serve.login_window_s`` seconds, every credential from that client gets 429 with
   ``Retry-After`` until the window has moved on (a valid session still works);
3. held to one body-size limit: ``serve.max_json_kb`` for every request but file uploads,
   ``[ingest] max_file_mb`` plus ``serve.upload_overhead_kb`` for those. The body is counted
   as it arrives (``Content-Length`` is checked first but not trusted), and the request is
   answered 413 as soon as it passes the limit.

Refusals are ``{"error": message}`` JSON under the JSON APIs' paths (``/api/``, and those
``build_server`` names: ``/v1``, ``/mcp``) or for clients that ask for JSON, plain text
otherwise.

Example:
    >>> app.add_middleware(Policy, access=Access.from_env(), settings=Settings())
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from rag.config import Settings
from ui.access import Access
from ui.guard import LocalGuard

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (status, message) -> an ASGI response with a ``headers`` mapping (a Starlette response).
Refuse = Callable[[int, str], Any]

LOGIN_PATHS = {"/login", "/login/"}
LOGOUT_PATHS = {"/logout", "/logout/"}
PUBLIC = {"/api/health"} | LOGIN_PATHS | LOGOUT_PATHS
UPLOAD_PATHS = frozenset({"/api/ingest", "/gradio_api/upload"})
JSON_PATHS = ("/api",)
COOKIE = "newsqa_session"
USER_KEY = "newsqa.user"  # scope key: who the request is from (None: anonymous)
LOCKED_KEY = "newsqa.locked"  # scope key: whether this server requires credentials
_LOGIN_FORM_BYTES = 16 * 1024
_MAX_CLIENTS = 10_000  # clients whose failed logins are remembered at once
_MAX_SESSIONS = 10_000


class LoginThrottle:
    """Failed logins per client in a sliding window; too many and the client must wait."""

    clock = staticmethod(time.monotonic)  # seconds; a test may set its own

    def __init__(self, attempts: int, window_s: float) -> None:
        """Allow ``attempts`` failures per client within ``window_s`` seconds."""
        self.attempts = attempts
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait_s(self, client: str, now: float | None = None) -> float:
        """Seconds ``client`` must wait before its next attempt (0: it may try now)."""
        now = self.clock() if now is None else now
        failures = self._failures.get(client)
        if failures is None:
            return 0.0
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0.0
        if len(failures) < self.attempts:
            return 0.0
        return failures[-self.attempts] + self.window_s - now

    def failed(self, client: str, now: float | None = None) -> None:
        """Count one failed attempt of ``client``."""
        now = self.clock() if now is None else now
        failures = self._failures.setdefault(client, deque(maxlen=max(self.attempts, 1)))
        failures.append(now)
        self._failures.move_to_end(client)
        while len(self._failures) > _MAX_CLIENTS:
            self._failures.popitem(last=False)


class Sessions:
    """Login sessions in memory: a random id -> (user, expiry); a restart logs everyone out."""

    def __init__(self, ttl_s: float) -> None:
        """Sessions last ``ttl_s`` seconds."""
        self.ttl_s = ttl_s
        self._by_id: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def create(self, user: str) -> str:
        """A new session id for ``user``."""
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = (user, time.monotonic() + self.ttl_s)
        while len(self._by_id) > _MAX_SESSIONS:
            self._by_id.popitem(last=False)
        return sid

    def user(self, sid: str) -> str | None:
        """The user of a live session, else None."""
        found = self._by_id.get(sid)
        if found is None:
            return None
        if found[1] < time.monotonic():
            del self._by_id[sid]
            return None
        return found[0]

    def end(self, sid: str) -> None:
        """Log a session out."""
        self._by_id.pop(sid, None)


class _Refusal(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class Policy:
    """ASGI middleware: host/origin, authentication, login throttling and the body limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        access: Access,
        settings: Settings | None = None,
        host: str = "127.0.0.1",
        upload_paths: Collection[str] = UPLOAD_PATHS,
        json_paths: Collection[str] = JSON_PATHS,
        refusals: Mapping[str, Refuse] | None = None,
    ) -> None:
        """Guard ``app`` served on the interface ``host``; limits from ``settings.serve``.

        ``upload_paths`` get the upload body limit. Refusals under ``json_paths`` (path
        prefixes) are ``{"error": message}``; under a prefix of ``refusals``, that door's
        own error shape (``refusals[prefix](status, message)``, an ASGI response).
        """
        settings = settings or Settings()
        limits = settings.serve
        self.app = app
        self.access = access
        self.guard = LocalGuard(app, host=host)
        self.upload_paths = frozenset(upload_paths)
        self.json_paths = tuple(p.rstrip("/") for p in json_paths)
        self.refusals = {p.rstrip("/"): make for p, make in (refusals or {}).items()}
        self.upload_limit = settings.ingest.max_file_bytes + limits.upload_overhead_kb * 1024
        self.request_limit = limits.max_json_kb * 1024
        self.throttle = LoginThrottle(limits.login_attempts, limits.login_window_s)
        self.sessions = Sessions(limits.session_hours * 3600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a refusal, the login page, or pass the request on within its limits."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        try:
            problem = self.guard.problem(headers)
            if problem is not None:
                raise _Refusal(*problem)
            path = scope.get("path", "")
            user = self._user(scope, headers)
            if self.access.required and scope["type"] == "http":
                if path in LOGIN_PATHS:
                    await self._login(scope, receive, send, headers)
                    return
                if path in LOGOUT_PATHS:
                    await self._logout(scope, send, headers)
                    return
            if self.access.required and user is None and path not in PUBLIC:
                if _wants_page(scope, headers):
                    target = quote(_local_target(scope), safe="/")
                    await _redirect(send, f"/login?next={target}")
                    return
                raise _Refusal(
                    401, "Authentication required: a token, a login or a session.", _CHALLENGE
                )
        except _Refusal as ex:
            # Anonymous requests are routine; foreign hosts and origins and throttled
            # clients are worth a look.
            level = logging.INFO if ex.status == 401 else logging.WARNING
            method, where = scope.get("method", "WS"), scope.get("path")
            logger.log(level, "refused %s %s: %s", method, where, ex)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self._refuse(scope, receive, send, ex.status, str(ex), ex.headers)
            return
        scope[USER_KEY] = user
        scope[LOCKED_KEY] = self.access.required
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if path in self.upload_paths else self.request_limit
        await self._limited(scope, receive, send, limit)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer a refusal in the shape of the door it came to; the connection is closed."""
        path = scope.get("path", "")
        for prefix, make in self.refusals.items():
            if _under(path, prefix):
                response = make(status, message)
                for key, value in {**(headers or {}), "Connection": "close"}.items():
                    response.headers[key] = value
                await response(scope, receive, send)
                return
        accept = _headers(scope).get("accept", "")
        as_json = any(_under(path, p) for p in self.json_paths) or "application/json" in accept
        await _respond(send, status, message, as_json, headers)

    # ---- who is asking ----------------------------------------------------------------------

    def _user(self, scope: Scope, headers: dict[str, str]) -> str | None:
        """The authenticated user, None for no credentials; wrong ones raise 401 or 429."""
        if not self.access.required:
            return None
        sid = _cookies(headers).get(COOKIE)
        if sid and (user := self.sessions.user(sid)):
            return user
        authorization = headers.get("authorization")
        if authorization is None:
            return None
        client = _client(scope)
        self._check_throttle(client)
        scheme, _, value = authorization.partition(" ")
        kind = scheme.casefold()
        user = None
        if kind == "bearer":
            user = self.access.bearer_user(value.strip())
        elif kind == "basic":
            user = self.access.basic_user(value)
        if user is None:
            self.throttle.failed(client)
            raise _Refusal(
                401, "Wrong credentials: a valid token or login is required.", _CHALLENGE
            )
        return user

    def _check_throttle(self, client: str) -> None:
        wait = self.throttle.wait_s(client)
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise _Refusal(
                429,
                f"Too many failed logins from this address: try again in {seconds} s.",
                {"Retry-After": str(seconds)},
            )

    # ---- the login page ---------------------------------------------------------------------

    async def _login(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        method = scope.get("method", "GET")
        next_path = _safe_next(parse_qs(scope.get("query_string", b"").decode("latin-1")))
        if method in ("GET", "HEAD"):
            await _page(send, 200, _login_html(next_path))
            return
        if method != "POST":
            raise _Refusal(405, "Use GET or POST.", {"Allow": "GET, POST"})
        client = _client(scope)
        self._check_throttle(client)
        body = await _read_body(receive, _LOGIN_FORM_BYTES)
        if body is None:
            raise _Refusal(413, "The login form is too large.")
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        user = self.access.login_user(_first(form, "username"), _first(form, "password"))
        next_path = _safe_next(form) if "next" in form else next_path
        browser = _wants_page(scope, headers)
        if user is None:
            self.throttle.failed(client)
            if browser:
                await _page(send, 401, _login_html(next_path, "Wrong user name or password."))
                return
            raise _Refusal(401, "Wrong user name or password.")
        sid = self.sessions.create(user)
        secure = "; Secure" if _https(scope, headers) else ""
        cookie = f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax{secure}"
        if browser:
            await _redirect(send, next_path, {"Set-Cookie": cookie})
            return
        body_out = json.dumps({"success": True}).encode()
        await _send(send, 200, body_out, b"application/json", {"Set-Cookie": cookie})

    async def _logout(self, scope: Scope, send: Send, headers: dict[str, str]) -> None:
        sid = _cookies(headers).get(COOKIE)
        if sid:
            self.sessions.end(sid)
        expired = f"{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        await _redirect(send, "/login", {"Set-Cookie": expired})

    # ---- the body limit ---------------------------------------------------------------------

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass the request on, answering 413 once its body passes ``limit`` bytes."""
        length = _headers(scope).get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            await self._refuse(scope, receive, send, 413, _too_large(limit))
            return
        received = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True  # the app sees the client go away; the client gets 413
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's reaction to the cut body is replaced by the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not over:
                raise
        if over and not started:
            method, path = scope.get("method"), scope.get("path")
            logger.warning("refused %s %s: body over %d bytes", method, path, limit)
            await self._refuse(scope, receive, send, 413, _too_large(limit))


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _headers(scope: Scope) -> dict[str, str]:
    raw = scope.get("headers", [])
    return {k.decode("latin-1").casefold(): v.decode("latin-1") for k, v in raw}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no session
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _client(scope: Scope) -> str:
    """The address that failed logins are counted against (the TCP peer)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _https(scope: Scope, headers: dict[str, str]) -> bool:
    return scope.get("scheme") == "https" or headers.get("x-forwarded-proto") == "https"


def _wants_page(scope: Scope, headers: dict[str, str]) -> bool:
    """A browser navigating to a page (not a script, not the page's own requests)."""
    if scope.get("method") not in ("GET", "HEAD", "POST"):
        return False
    accept = headers.get("accept", "")
    return "text/html" in accept and not scope.get("path", "").startswith("/api/")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _local_target(scope: Scope) -> str:
    path = scope.get("path", "/") or "/"
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _safe_next(form: dict[str, list[str]]) -> str:
    """Where to go after logging in: a path on this server only (no open redirect)."""
    target = _first(form, "next") or "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def _first(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[0]


def _too_large(limit: int) -> str:
    return f"The request is too large (at most {limit / (1 << 20):.1f} MB)."


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body"):
            return bytes(body)


async def _send(
    send: Send, status: int, body: bytes, kind: bytes, headers: dict[str, str] | None = None
) -> None:
    raw = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    raw.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _respond(
    send: Send, status: int, message: str, as_json: bool, headers: dict[str, str] | None = None
) -> None:
    """A refusal; the connection is closed after it, so an unread body is never read."""
    headers = {**(headers or {}), "Connection": "close"}
    if as_json:
        body, kind = json.dumps({"error": message}).encode(), b"application/json"
    else:
        body, kind = message.encode(), b"text/plain; charset=utf-8"
    await _send(send, status, body, kind, headers)


async def _redirect(send: Send, location: str, headers: dict[str, str] | None = None) -> None:
    await _send(send, 303, b"", b"text/plain", {"Location": location, **(headers or {})})


async def _page(send: Send, status: int, page: str) -> None:
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
               "form-action 'self'; frame-ancestors 'none'", "X-Frame-Options": "DENY"}  # fmt: skip
    await _send(send, status, page.encode(), b"text/html; charset=utf-8", headers)


def _login_html(next_path: str, error: str = "") -> str:
    """The login form: no script, no remote resource."""
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>newsqa: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; display: grid; place-items: center;
       min-height: 90vh; margin: 0; background: #f6f7f9; color: #1f2328; }}
form {{ background: #fff; padding: 2rem; border-radius: 12px; width: min(22rem, 90vw);
        box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
h1 {{ margin: 0 0 .3rem; font-size: 1.5rem; }}
p {{ margin: 0 0 1rem; color: #57606a; font-size: .9rem; }}
label {{ display: block; margin: .8rem 0 .3rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .55rem; font-size: 1rem;
         border: 1px solid #d0d7de; border-radius: 6px; }}
button {{ margin-top: 1.2rem; width: 100%; padding: .6rem; font-size: 1rem; border: 0;
          border-radius: 6px; background: #ea580c; color: #fff; cursor: pointer; }}
.error {{ color: #b42318; font-weight: 600; }}
</style></head>
<body><form method="post" action="/login">
<h1>newsqa</h1>
<p>Log in with your user name and password (or any name and the API token).</p>
{problem}
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{html.escape(next_path)}">
<button type="submit">Log in</button>
</form></body></html>
"""
