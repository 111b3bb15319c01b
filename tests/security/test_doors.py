"""Issue 8, items 1, 5, 8 and 10: one door policy for every route of ``rag serve``.

With ``$NEWSQA_API_TOKEN`` (or ``$NEWSQA_AUTH``) set, every route that reads or writes data
needs a credential, whichever interface serves it: the REST API, the chat's Gradio API and
queue, its files, its pages, the schema, and any interface mounted later. The chat page is
reached through ``/login``, with a login or the token as the password. Failed logins are
throttled per client (429 with ``Retry-After``), and one body limit covers every route.

The attacks of the issue run against a real server (``relkit.app_server``: `rag serve` with
fake models) with the clients the probe used (``httpx``, ``gradio_client``); the route walk
and the limits run against ``ui.server.build_server`` through ``TestClient``.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from relkit import AppServer, app_server
from starlette.routing import Mount

from ui.policy import PUBLIC, LoginThrottle
from ui.server import build_server

TOKEN = "s3cret-token-for-tests"
LOGIN = ("ann", "correct horse")
ARTICLE = "# Ferry resumes\n2024-05-01\n\nThe island ferry resumed on Monday after repairs.\n"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---- the probe's attacks, against a running server with a token --------------------------------


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """`rag serve` with ``$NEWSQA_API_TOKEN`` set and no logins."""
    root = tmp_path_factory.mktemp("locked")
    with app_server(root, NEWSQA_API_TOKEN=TOKEN) as running:
        yield running


def _config(server: AppServer) -> dict[str, Any]:
    return httpx.get(f"{server.url}/config", headers=BEARER, timeout=30).json()


def _dependency(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in config["dependencies"] if d.get("api_name") == name)


def _join(server: AppServer, fn: dict[str, Any], data: list[Any], **headers: str) -> httpx.Response:
    body = {"data": data, "fn_index": fn["id"], "trigger_id": fn["targets"][0][0],
            "session_hash": "probe", "event_data": None}  # fmt: skip
    return httpx.post(f"{server.url}/gradio_api/queue/join", json=body, headers=headers, timeout=30)


@pytest.mark.enable_socket
def test_anonymous_clients_cannot_use_the_chats_gradio_api(locked, tmp_path):
    url = locked.url
    # The first request: the library through the Gradio run route.
    r = httpx.post(f"{url}/gradio_api/run/library", json={"data": [""], "session_hash": "s"})
    assert r.status_code == 401 and "Harbour" not in r.text
    # The app's structure (fn_index, trigger ids) is not handed out either.
    for path in ("/config", "/gradio_api/info", "/gradio_api/openapi.json", "/openapi.json"):
        r = httpx.get(url + path, timeout=30)
        assert r.status_code == 401 and "dependencies" not in r.text, path
    # Even knowing the ids (read with the token here), the queue refuses strangers:
    # listing, selecting a row and deleting.
    config = _config(locked)
    for name, data in [("library", [""]), ("select", [[]]), ("delete", ["x", ""])]:
        fn = _dependency(config, name)
        r = _join(locked, fn, data)
        assert r.status_code == 401, (name, r.status_code, r.text)
    r = httpx.get(f"{url}/gradio_api/queue/data?session_hash=probe", timeout=30)
    assert r.status_code == 401
    # gradio_client, anonymously: it cannot even read the app.
    from gradio_client import Client, handle_file

    with pytest.raises(Exception):  # noqa: B017 - whichever error gradio_client raises
        Client(url, verbose=False).predict([handle_file(__file__)], "", api_name="/upload")
    r = httpx.post(f"{url}/gradio_api/upload", files={"files": ("x.md", ARTICLE.encode())})
    assert r.status_code == 401
    # And nothing was added or removed on the way.
    listed = httpx.get(f"{url}/api/articles", headers=BEARER, timeout=30).json()
    assert len(listed) == 3 and not (locked.store / "uploads").exists()


@pytest.mark.enable_socket
def test_the_token_opens_every_door(locked, tmp_path):
    from gradio_client import Client, handle_file

    url = locked.url
    r = httpx.post(f"{url}/gradio_api/run/library", json={"data": [""]}, headers=BEARER)
    assert r.status_code == 200 and "Harbour" in r.text
    article = tmp_path / "ferry.md"
    article.write_text(ARTICLE)
    client = Client(url, verbose=False, headers=BEARER)
    result = client.predict([handle_file(str(article))], "", api_name="/upload")
    assert "added" in result[0], result[0]
    # The chat page: a browser is sent to the login page, where the token is the password.
    with httpx.Client(base_url=url, timeout=30) as browser:
        page = browser.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/"
        assert 'name="password"' in browser.get("/login").text
        form = {"username": "", "password": TOKEN, "next": "/"}
        logged = browser.post("/login", data=form, headers={"Accept": "text/html"})
        assert logged.status_code == 303 and logged.headers["location"] == "/"
        assert "newsqa_session" in browser.cookies
        page = browser.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "<gradio-app" in page.text.lower()
        assert browser.get("/config").status_code == 200
        assert browser.get("/logout").status_code == 303
        assert browser.get("/config").status_code == 401  # logged out
    # gradio_client's own login (auth=) goes through the same login page.
    logged_in = Client(url, verbose=False, auth=("anyone", TOKEN))
    rows = logged_in.predict("", api_name="/library")
    assert any("Ferry resumes" in str(row) for row in rows[0]["data"])


@pytest.mark.enable_socket
def test_health_is_public_but_says_nothing_private(locked):
    body = httpx.get(f"{locked.url}/api/health", timeout=30).json()
    assert body["status"] == "ok" and body["articles"] is None and body["chunks"] is None
    assert "/" not in body["model"]  # a file name, not where it lives
    full = httpx.get(f"{locked.url}/api/health", headers=BEARER, timeout=30).json()
    assert full["articles"] >= 3 and "/" not in full["model"]


@pytest.mark.enable_socket
def test_logins_open_the_same_doors(tmp_path):
    with app_server(tmp_path, NEWSQA_AUTH=f"{LOGIN[0]}:{LOGIN[1]}") as server:
        url = server.url
        r = httpx.post(f"{url}/gradio_api/run/library", json={"data": [""]})
        assert r.status_code == 401
        r = httpx.post(f"{url}/gradio_api/run/library", json={"data": [""]}, headers=basic(*LOGIN))
        assert r.status_code == 200 and "Harbour" in r.text
        assert httpx.get(f"{url}/api/articles", headers=basic(*LOGIN)).status_code == 200
        from gradio_client import Client

        assert Client(url, verbose=False, auth=LOGIN).predict("", api_name="/library")
        with pytest.raises(Exception, match="(?i)invalid credentials|login"):
            Client(url, verbose=False, auth=(LOGIN[0], "wrong"))


# ---- every route of the assembled app -----------------------------------------------------------


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, through mounts and included routers."""
    for route in routes:
        if isinstance(route, Mount):
            yield prefix + route.path, {"GET", "POST"}  # the mount itself
            yield from _routes(getattr(route.app, "routes", []), prefix + route.path)
        elif isinstance(route, _IncludedRouter):
            inner = route.original_router.routes
            yield from _routes(inner, prefix + route.include_context.prefix)
        else:
            path = getattr(route, "path", None)
            if path is not None:
                yield prefix + path, set(getattr(route, "methods", None) or {"GET"})


def _concrete(path: str) -> str:
    """A request path for a route pattern: every ``{param}`` filled in."""
    return re.sub(r"\{[^}]+\}", "x", path) or "/"


@pytest.fixture
def served(make_assistant, monkeypatch) -> Iterator[tuple[Any, TestClient]]:
    monkeypatch.delenv("NEWSQA_AUTH", raising=False)
    app = build_server(make_assistant(), "127.0.0.1", 7860, token=TOKEN)
    with TestClient(app, base_url="http://127.0.0.1:7860") as client:
        yield app, client


def test_every_route_of_the_assembled_app_needs_the_token(served):
    app, client = served
    routes = sorted({(_concrete(p), m) for p, ms in _routes(app.routes) for m in ms})
    assert len(routes) > 80  # the REST API and all of Gradio's routes
    assert any(p.startswith("/gradio_api/queue") for p, _ in routes)
    # The OpenAI-compatible API, the MCP server, and paths nobody serves: refused before
    # anything looks for them.
    routes += [("/v1/chat/completions", "POST"), ("/v1/models", "GET"), ("/mcp", "POST"),
               ("/mcp/sse", "GET"), ("/nowhere", "GET")]  # fmt: skip
    opened = []
    for path, method in routes:
        if path in PUBLIC:
            continue
        r = client.request(method, path, json={"data": []} if method == "POST" else None)
        if r.status_code != 401:
            opened.append((method, path, r.status_code, r.text[:80]))
    assert opened == []
    assert {p for p, _ in routes} >= {"/api/health", "/login"}
    # With the token, a request reaches the door itself: MCP's own answer to an empty message.
    assert client.post("/mcp", json={}, headers=BEARER).status_code not in (401, 403, 404)


def test_wrong_credentials_are_refused_everywhere(served):
    _, client = served
    wrong = [{"Authorization": "Bearer wrong"}, basic("ann", "nope"), {"Authorization": TOKEN}]
    for headers in wrong:  # (fewer than serve.login_attempts: not throttled yet)
        for path in ("/api/articles", "/config", "/api/health"):
            r = client.get(path, headers=headers)
            assert r.status_code == 401, (headers, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"


def test_the_login_page_only_sends_back_to_this_server(served):
    _, client = served
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        r = client.post("/login", data={"password": TOKEN, "next": target},
                        headers={"Accept": "text/html"}, follow_redirects=False)  # fmt: skip
        assert r.status_code == 303 and r.headers["location"] == "/", target
    page = client.get("/login?next=%22%3E%3Cscript%3Ealert(1)%3C/script%3E").text
    assert "<script>" not in page
    r = client.post("/login", data={"username": "x", "password": "wrong"})
    assert r.status_code == 401 and "newsqa_session" not in r.cookies


# ---- item 8: failed logins are throttled per client ---------------------------------------------


def test_brute_force_gets_429_with_retry_after(make_assistant, monkeypatch):
    monkeypatch.delenv("NEWSQA_API_TOKEN", raising=False)
    assistant = make_assistant()
    # A clock of the test's own: 200 requests on a loaded machine may outlast a real window.
    clock = [1000.0]
    monkeypatch.setattr(LoginThrottle, "clock", staticmethod(lambda: clock[0]))
    settings = assistant.settings.with_overrides(serve={"login_attempts": 5, "login_window_s": 2})
    assistant.settings = settings
    app = build_server(assistant, "127.0.0.1", 7860, [LOGIN])
    attacker = TestClient(app, base_url="http://127.0.0.1:7860", client=("10.0.0.66", 1))
    other = TestClient(app, base_url="http://127.0.0.1:7860", client=("10.0.0.7", 1))
    statuses = []
    for i in range(200):
        kind = i % 3
        if kind == 0:
            r = attacker.get("/api/articles", headers=basic("ann", f"guess{i}"))
        elif kind == 1:
            r = attacker.post("/login", data={"username": "ann", "password": f"guess{i}"})
        else:
            r = attacker.get("/config", headers={"Authorization": f"Bearer guess{i}"})
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses[:12]
    assert 1 <= int(r.headers["retry-after"]) <= 2 and "try again" in r.text
    # While throttled, even the right password is not tried (it would tell the guess apart).
    assert attacker.get("/api/articles", headers=basic(*LOGIN)).status_code == 429
    form = {"username": LOGIN[0], "password": LOGIN[1]}
    assert attacker.post("/login", data=form).status_code == 429
    # Another client is not affected, and the attacker may try again once the window passed.
    assert other.get("/api/articles", headers=basic(*LOGIN)).status_code == 200
    clock[0] += 2.1
    assert attacker.get("/api/articles", headers=basic(*LOGIN)).status_code == 200


@pytest.mark.enable_socket
def test_brute_force_against_the_running_server(tmp_path):
    """The issue's probe: 200 wrong Basic logins in a burst."""
    with app_server(tmp_path, NEWSQA_AUTH=f"{LOGIN[0]}:{LOGIN[1]}") as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            statuses = [
                client.get("/api/articles", headers=basic("ann", f"guess{i}")).status_code
                for i in range(200)
            ]
            blocked = client.get("/api/articles", headers=basic(*LOGIN))
        assert statuses.count(401) == 10 and statuses.count(429) == 190
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert "too many failed logins" in blocked.json()["error"].lower()


# ---- item 5: one body limit for every route ------------------------------------------------------


def test_one_body_limit_covers_the_gradio_routes(served):
    _, client = served
    limit = 1024 * 1024  # serve.max_json_kb
    big = json.dumps({"data": ["x" * (limit + 10)], "fn_index": 0, "session_hash": "s"})
    for path in ("/gradio_api/queue/join", "/gradio_api/run/library", "/config", "/login"):
        r = client.post(path, content=big, headers={**BEARER, "content-type": "application/json"})
        assert r.status_code == 413, (path, r.status_code, r.text[:200])

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(64):
            yield b"x" * 65536

    r = client.post("/gradio_api/queue/join", content=chunks(), headers=BEARER)
    assert r.status_code == 413 and "too large" in r.text
    # A lying Content-Length does not help: the bytes are counted.
    r = client.post("/gradio_api/queue/join", content=chunks(),
                    headers={**BEARER, "content-length": "10"})  # fmt: skip
    assert r.status_code in (400, 413)
    # Uploads may be larger (one article up to [ingest] max_file_mb), but not unlimited.
    upload = {"files": ("big.md", b"word " * (limit // 4))}
    assert client.post("/gradio_api/upload", files=upload, headers=BEARER).status_code == 200
    huge = b"x" * (51 * 1024 * 1024 + 1)
    multipart = {**BEARER, "content-type": "multipart/form-data; boundary=x"}
    r = client.post("/gradio_api/upload", content=huge, headers=multipart)
    assert r.status_code == 413


def _raw_post_chunked(server: AppServer, path: str, total: int) -> tuple[int, int]:
    """POST ``total`` bytes chunked to ``path`` over a socket: (status, bytes sent)."""
    parts = urlsplit(server.url)
    head = (f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/json\r\n\r\n")  # fmt: skip
    piece = b"x" * (1 << 20)
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        s.sendall(head.encode())
        try:
            while sent < total:
                s.sendall(frame)
                sent += len(piece)
        except OSError:  # the server answered and closed: stop sending
            pass
        response = b""
        try:
            while chunk := s.recv(65536):
                response += chunk
        except OSError:
            pass
    return int(response.split(b" ", 2)[1]), sent


@pytest.mark.enable_socket
def test_a_150_mb_body_to_a_gradio_route_is_cut_off(tmp_path):
    """The issue's probe: 150 MB to a Gradio route was read whole (RSS 1.18 GB)."""
    with app_server(tmp_path) as server:
        status, sent = _raw_post_chunked(server, "/gradio_api/queue/join", 150 << 20)
        assert status == 413
        assert sent < 150 << 20  # the server stopped reading long before the end
        assert httpx.get(f"{server.url}/api/health", timeout=30).status_code == 200
