"""Issue 7, item 10: what the running server hands out, and to whom.

Against ``rag serve`` on a loopback port (fake models, ``relkit.app_server``):

* the file routes refuse traversal (``../``, absolute, URL-encoded, double-encoded, mixed
  case, ``file://``, SSRF to loopback) and every file of the store, and serve an uploaded
  file back only when the app itself created it, from a private folder;
* ``/monitoring`` is off (Gradio turns it on by default and ``/monitoring/summary`` lists
  the traffic of every function to anyone);
* a web page on another site cannot use the app: requests with a foreign ``Origin`` are
  refused outright (Gradio itself only withholds the CORS header, the request still runs),
  and a rebound DNS name (``Host: evil.example``) is refused (``ui.guard.LocalGuard``), for
  the chat's routes and the REST API's alike.

Requests for odd paths are sent byte for byte over a socket: HTTP clients normalise ``../``.
"""

from __future__ import annotations

import json
import socket
import stat
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from relkit import AppServer, app_server

pytestmark = pytest.mark.enable_socket

EVIL = "https://evil.example"
# Never in a refusal: /etc/passwd, a SQLite file (the index, Chroma's), an environment.
SECRETS = [b"root:x:0:0", b"SQLite format 3", b"PATH=", b"HOME="]
REFUSED = b"Cross-origin request refused."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with app_server(tmp_path_factory.mktemp("routes")) as running:
        yield running


def raw_get(server: AppServer, target: str, headers: dict[str, str] | None = None) -> tuple[
    int, bytes
]:  # fmt: skip
    """GET ``target`` exactly as written; (status, whole response)."""
    parts = urlsplit(server.url)
    headers = {"Host": parts.netloc, "Connection": "close", **(headers or {})}
    lines = [f"GET {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def _traversals(server: AppServer) -> list[str]:
    store, port = server.store, urlsplit(server.url).port
    enc = str(store).replace("/", "%2f")
    return [
        "/gradio_api/file=/etc/passwd",
        "/file=/etc/passwd",
        "/gradio_api/file=../../../../../../../../etc/passwd",
        "/file=../../../../../../../../etc/passwd",
        "/gradio_api/file=..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/gradio_api/file=%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/gradio_api/file=%252e%252e%252f%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "/gradio_api/file=%2fetc%2fpasswd",
        "/gradio_api/file=%252fetc%252fpasswd",
        "/gradio_api/file=//etc/passwd",
        "/gradio_api/file=/etc/./passwd",
        "/gradio_api/file=/tmp/../etc/passwd",
        "/gradio_api/file=....//....//....//....//etc/passwd",
        "/gradio_api/file=..\\..\\..\\..\\etc\\passwd",
        "/gradio_api/file=file:///etc/passwd",
        "/gradio_api/file=/ETC/PASSWD",
        "/GRADIO_API/file=/etc/passwd",
        "/gradio_api/FILE=/etc/passwd",
        "/Gradio_Api/File=/etc/passwd",
        "/gradio_api/file=/proc/self/environ",
        f"/gradio_api/file=http://127.0.0.1:{port}/config",
        "/static/../../../../../etc/passwd",
        "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/gradio_api/file=store/index.sqlite3",
        "/gradio_api/file=./store/../store/index.sqlite3",
        "/gradio_api/file=/proc/self/cwd/store/index.sqlite3",
        f"/gradio_api/file={store}/index.sqlite3",
        f"/gradio_api/file={enc}%2findex.sqlite3",
        f"/gradio_api/file={store}/INDEX.SQLITE3",
        f"/gradio_api/file={store}/chroma/chroma.sqlite3",
        f"/file={store}/chroma/chroma.sqlite3",
        f"/gradio_api/file={store}/write.lock",
        f"/gradio_api/file={server.store.parent}/serve.toml",
    ]


def test_file_routes_refuse_traversal_and_the_store(server):
    assert (server.store / "index.sqlite3").is_file()
    assert (server.store / "chroma" / "chroma.sqlite3").is_file()
    served = []
    for target in _traversals(server):
        status, response = raw_get(server, target)
        if not 400 <= status < 500 or any(s in response for s in SECRETS):
            served.append((target, status, response[:300]))
    assert served == []


def test_store_files_of_any_kind_are_refused(server):
    files = [p for p in server.store.rglob("*") if p.is_file()]
    assert len(files) >= 4, files  # index.sqlite3, its WAL, write.lock, chroma files
    with httpx.Client(base_url=server.url, timeout=30) as client:
        statuses = {str(p): client.get(f"/gradio_api/file={p}").status_code for p in files}
    assert all(400 <= code < 500 for code in statuses.values()), statuses


@pytest.mark.parametrize(
    "path", ["/monitoring", "/monitoring/summary", "/gradio_api/monitoring", "/monitoring/x"]
)
def test_monitoring_is_off(server, path):
    status, response = raw_get(server, path)
    assert 400 <= status < 500, response[:300]
    assert b"functions" not in response and b"success_rate" not in response


def _upload(server: AppServer, name: str, content: bytes, **headers: str) -> httpx.Response:
    files = {"files": (name, content)}
    return httpx.post(f"{server.url}/gradio_api/upload", files=files, headers=headers, timeout=30)


def test_uploads_are_served_back_from_a_private_folder_only(server):
    upload = _upload(server, "note.txt", b"uploaded through the app")
    assert upload.status_code == 200, upload.text
    path = Path(upload.json()[0])
    got = httpx.get(f"{server.url}/gradio_api/file={path}", timeout=30)
    assert got.status_code == 200 and got.content == b"uploaded through the app"

    # Gradio's folder is private to this server, not the shared /tmp/gradio of every app.
    shared = Path(tempfile.gettempdir()) / "gradio"
    assert not path.is_relative_to(shared), path
    root = next(p for p in path.parents if p.name.startswith("newsqa-uploads-"))
    assert stat.S_IMODE(root.stat().st_mode) & 0o077 == 0, oct(root.stat().st_mode)

    # A file another program left in the shared folder is not handed out.
    planted = shared / uuid.uuid4().hex / "planted.txt"
    planted.parent.mkdir(parents=True)
    try:
        planted.write_text("secret left by someone else")
        refused = httpx.get(f"{server.url}/gradio_api/file={planted}", timeout=30)
        assert refused.status_code == 403 and b"secret" not in refused.content
    finally:
        planted.unlink()
        planted.parent.rmdir()


def test_uploaded_html_is_never_served_as_a_page(server):
    """An uploaded article must not run as a page of the app's origin (stored XSS)."""
    upload = _upload(server, "story.html", b"<html><script>alert(1)</script></html>")
    assert upload.status_code == 200, upload.text
    got = httpx.get(f"{server.url}/gradio_api/file={upload.json()[0]}", timeout=30)
    assert got.status_code == 200
    assert "html" not in got.headers["content-type"], got.headers
    assert got.headers["content-disposition"].startswith("attachment"), got.headers


def test_the_library_copy_of_an_upload_is_not_served(server):
    from gradio_client import Client, handle_file

    article = server.store.parent / "ferry.md"
    article.write_text("# Ferry resumes\n2024-05-01\n\nThe island ferry resumed on Monday.\n")
    client = Client(server.url, verbose=False)
    result = client.predict([handle_file(str(article))], "", api_name="/upload")
    assert "added" in result[0], result[0]
    # The store keeps the article's text, not a copy of the upload (issue 8, item 6).
    copies = [p for p in (server.store / "uploads").rglob("*") if p.is_file()]
    assert copies == []
    for copy in [server.store / "uploads" / "ferry.md", article]:
        got = httpx.get(f"{server.url}/gradio_api/file={copy}", timeout=30)
        assert got.status_code == 403 and b"island ferry" not in got.content


def _cross_site_requests(server: AppServer) -> list[tuple[str, str, dict]]:
    config = httpx.get(f"{server.url}/config", timeout=30).json()
    library = next(d for d in config["dependencies"] if d.get("api_name") == "library")
    join = {"data": [""], "fn_index": library["id"], "session_hash": "evil", "event_data": None,
            "trigger_id": None}  # fmt: skip
    return [
        ("GET", "/config", {}),
        ("GET", "/gradio_api/info", {}),
        ("POST", "/gradio_api/queue/join", {"json": join}),
        ("POST", "/gradio_api/queue/join",
         {"content": json.dumps(join), "headers": {"Content-Type": "text/plain"}}),
        ("POST", "/gradio_api/run/library", {"json": {"data": [""]}}),
        ("POST", "/gradio_api/upload", {"files": {"files": ("x.txt", b"from evil")}}),
        ("GET", "/gradio_api/queue/data?session_hash=evil", {}),
        ("GET", "/api/articles", {}),
        ("POST", "/api/ask", {"json": {"question": "When did the Harbour Bridge open?"}}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "origin", [EVIL, "null", "http://127.0.0.1:1", "http://localhost.evil.example"]
)
def test_other_origins_cannot_use_the_app(server, origin):
    refused = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for method, path, kwargs in _cross_site_requests(server):
            headers = {**kwargs.pop("headers", {}), "Origin": origin}
            r = client.request(method, path, headers=headers, **kwargs)
            # (Gradio's CORS layer lets loopback origins read responses: here, the refusal.)
            allowed = r.headers.get("access-control-allow-origin")
            # The REST API refuses in its own JSON form; the rest in plain text.
            said = {"error": REFUSED.decode()} if path.startswith("/api/") else None
            ok = r.json() == said if said else r.content == REFUSED
            if r.status_code == 403 and ok and allowed in (None, origin):
                refused.append(path)
            else:
                pytest.fail(f"{method} {path} from {origin}: {r.status_code} {allowed} {r.text}")
            if origin in (EVIL, "null"):
                assert allowed is None
    assert len(refused) == 9


def test_a_preflight_from_another_origin_gets_no_cors_grant(server):
    headers = {"Origin": EVIL, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    r = httpx.options(f"{server.url}/gradio_api/queue/join", headers=headers, timeout=30)
    assert r.headers.get("access-control-allow-origin") not in ("*", EVIL), r.headers


def test_the_page_itself_may_use_the_app(server):
    """Control: the browser's own requests (same origin) go through."""
    own = server.url
    with httpx.Client(base_url=server.url, timeout=30, headers={"Origin": own}) as client:
        assert client.get("/config").status_code == 200
        assert client.post("/gradio_api/run/library", json={"data": [""]}).status_code == 200
        assert _upload(server, "x.txt", b"mine", Origin=own).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "192.168.0.10"])
def test_a_rebound_dns_name_is_refused(server, host):
    """DNS rebinding: a page whose name now resolves to 127.0.0.1 is same-origin for CORS."""
    port = urlsplit(server.url).port
    name = f"{host}:{port}"
    for path in ("/", "/config", "/gradio_api/info", "/api/articles"):
        status, response = raw_get(server, path, {"Host": name, "Origin": f"http://{name}"})
        assert status == 400, response[:300]
        assert b"named_endpoints" not in response and b'"dependencies"' not in response
        if path.startswith("/api/"):  # the REST API's JSON error form
            assert b"application/json" in response.split(b"\r\n\r\n")[0], response[:300]
            error = json.loads(response.split(b"\r\n\r\n", 1)[1])["error"]
            assert error.startswith("Invalid Host header"), response[:300]
    r = httpx.post(f"{server.url}/gradio_api/run/library", json={"data": [""]},
                   headers={"Host": name}, timeout=30)  # fmt: skip
    assert r.status_code == 400 and "Harbour" not in r.text


@pytest.mark.parametrize(
    ("bound", "headers", "refused"),
    [
        ("127.0.0.1", {"host": "127.0.0.1:7860"}, None),
        ("127.0.0.1", {"host": "localhost:7860", "origin": "http://localhost:7860"}, None),
        ("127.0.0.1", {"host": "[::1]:7860", "origin": "http://[::1]:7860"}, None),
        ("127.0.0.1", {"host": "evil.example:7860"}, 400),
        ("127.0.0.1", {"host": "127.0.0.1:7860", "origin": "http://localhost:7860"}, 403),
        ("127.0.0.1", {"host": "127.0.0.1:7860", "origin": "http://127.0.0.1:7861"}, 403),
        ("127.0.0.1", {"host": "127.0.0.1:7860", "origin": "null"}, 403),
        ("0.0.0.0", {"host": "news.example:7860", "origin": "http://news.example:7860"}, None),
        ("0.0.0.0", {"host": "news.example", "origin": "https://news.example:443"}, None),
        ("0.0.0.0", {"host": "news.example:7860", "origin": EVIL}, 403),
        ("0.0.0.0", {"host": "10.0.0.5:7860", "x-forwarded-host": "news.example",
                     "origin": "https://news.example"}, None),  # behind a proxy
    ],
)  # fmt: skip
def test_local_guard_rules(bound, headers, refused):
    """The rules of ``LocalGuard`` without a server: what the tests above see, case by case."""
    from ui.guard import LocalGuard

    problem = LocalGuard(app=None, host=bound).problem(headers)  # type: ignore[arg-type]
    assert (problem[0] if problem else None) == refused, problem


def test_the_private_upload_folder_is_removed_when_the_server_stops(tmp_path):
    with app_server(tmp_path) as running:
        upload = _upload(running, "note.txt", b"temporary")
        assert upload.status_code == 200, upload.text
        path = Path(upload.json()[0])
        root = next(p for p in path.parents if p.name.startswith("newsqa-uploads-"))
        assert path.exists()
    assert not root.exists()  # removed at exit; the store keeps its own copies of ingests
