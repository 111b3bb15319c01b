"""The REST API (ui/api.py) through FastAPI's TestClient: real embedder and Chroma, fake LLM."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatResult
from schemathesis.checks import not_a_server_error

from rag.assistant import Assistant
from rag.config import IngestSettings, ServeSettings, Settings
from rag.errors import ModelError
from ui.access import Access
from ui.api import AnswerOut, create_api
from ui.policy import Policy

BRIDGE = Path(__file__).parent / "data" / "articles" / "bridge.md"
BRIDGE_Q = "When did the Harbour Bridge open?"
BRIDGE_REPLY = "The Harbour Bridge opened to traffic on Tuesday morning [1]."
TODAY = "2024-12-01"
ARTICLE = b"# Night trains return to the valley\n2024-05-02\n\nThe night train to Oberdorf runs again from June, the railway said on Thursday.\n"  # noqa: E501


@pytest.fixture
def client(make_assistant) -> Iterator[Any]:
    """``client(*replies, assistant=, settings=, token=, logins=)``: a TestClient on the API."""

    def make(
        *replies: str,
        assistant: Assistant | None = None,
        settings: Settings | None = None,
        token: str | None = None,
        logins: list[tuple[str, str]] | None = None,
    ) -> TestClient:
        assistant = assistant or make_assistant(*replies)
        settings = settings or assistant.settings
        # The REST API behind the door policy, as `rag serve` runs it (ui.server).
        door = Access.from_env(logins or [], token)
        app = Policy(create_api(assistant, settings), access=door, settings=settings)
        return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)

    yield make


def sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_ask_returns_the_answer_json(client, make_assistant):
    c = client(BRIDGE_REPLY)
    r = c.post("/api/ask", json={"question": BRIDGE_Q, "today": TODAY})

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"] == BRIDGE_REPLY and not body["abstained"]
    (citation,) = body["citations"]
    assert citation["n"] == 1 and citation["published"] == "2024-03-12"
    assert "opened to traffic on Tuesday morning" in citation["quote"]
    # The response is exactly what `rag ask --json` prints.
    expected = make_assistant(BRIDGE_REPLY).ask(BRIDGE_Q, today=date(2024, 12, 1)).to_dict()
    assert set(body) == set(expected)
    assert AnswerOut.model_validate(expected).model_dump(mode="json").keys() == body.keys()


def test_ask_passes_options_and_history(client):
    c = client("How much did the Harbour Bridge cost?", "It cost 410 million euros [1].")
    r = c.post("/api/ask", json={
        "question": "How much did it cost?", "today": TODAY, "k": 2, "since": "2024-01-01",
        "history": [{"question": BRIDGE_Q, "answer": "It opened on Tuesday [1]."}],
    })  # fmt: skip
    assert r.status_code == 200, r.text
    # With history the question is condensed first (the fake model's first reply).
    assert r.json()["standalone_question"] == "How much did the Harbour Bridge cost?"


def test_ask_streams_server_sent_events(client):
    c = client(BRIDGE_REPLY)
    with c.stream("POST", "/api/ask", json={"question": BRIDGE_Q, "today": TODAY,
                                            "stream": True}) as r:  # fmt: skip
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse(r.read().decode())

    names = [name for name, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"token"} and len(names) > 3
    assert "".join(data["text"] for name, data in events if name == "token") == BRIDGE_REPLY
    assert events[-1][1]["citations"][0]["n"] == 1


def test_stream_as_query_parameter(client):
    r = client(BRIDGE_REPLY).post("/api/ask?stream=true", json={"question": BRIDGE_Q,
                                                                "today": TODAY})  # fmt: skip
    assert r.headers["content-type"].startswith("text/event-stream")
    assert sse(r.text)[-1][0] == "answer"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"question": "   "}, 400, "empty"),
        ({"question": "why " * 600}, 400, "too long"),
        ({}, 422, "question: Field required"),
        ({"question": "x", "k": 0}, 422, "k"),
        ({"question": "x", "today": "July"}, 422, "today"),
        ({"question": "x", "surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_questions_are_json_errors(client, body, status, message, stream):
    r = client().post("/api/ask", json={**body, "stream": stream} if body else body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert message in r.json()["error"]


def test_empty_store_is_409_even_when_streaming(client, make_assistant):
    c = client(assistant=make_assistant(ingest=False))
    for stream in (False, True):
        r = c.post("/api/ask", json={"question": BRIDGE_Q, "stream": stream})
        assert r.status_code == 409 and "rag ingest" in r.json()["error"]


def test_invalid_json_is_422(client):
    json_type = {"content-type": "application/json"}
    r = client().post("/api/ask", content=b"{not json", headers=json_type)
    assert r.status_code == 422 and "error" in r.json()


class DownModel(BaseChatModel):
    """A chat model whose server is down, like the openai provider's."""

    @property
    def _llm_type(self) -> str:
        return "down"

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise ModelError("cannot reach the model server at http://127.0.0.1:9/v1")


def test_model_errors_are_503(client, settings, embedder):
    assistant = Assistant(settings, llm=DownModel(), embedder=embedder)
    assistant.ingest([BRIDGE])
    c = client(assistant=assistant)

    r = c.post("/api/ask", json={"question": BRIDGE_Q, "today": TODAY})
    assert r.status_code == 503 and "http://127.0.0.1:9/v1" in r.json()["error"]
    r = c.post("/api/ask", json={"question": BRIDGE_Q, "today": TODAY, "stream": True})
    assert r.status_code == 503 and "http://127.0.0.1:9/v1" in r.json()["error"]


def test_model_busy_is_503_with_retry_after(client, settings):
    c = client(BRIDGE_REPLY, settings=settings.with_overrides(serve={"model_slots": 0}))
    r = c.post("/api/ask", json={"question": BRIDGE_Q})
    assert r.status_code == 503 and r.headers["retry-after"] == str(settings.serve.retry_after_s)
    assert "busy" in r.json()["error"]
    r = c.post("/api/ingest", files={"files": ("a.md", ARTICLE)})
    assert r.status_code == 503


def test_every_request_gives_its_model_slot_back(client, settings):
    one = settings.with_overrides(serve={"model_slots": 1})
    c = client(BRIDGE_REPLY, "It opened on Tuesday [1].", BRIDGE_REPLY, BRIDGE_REPLY, settings=one)
    for stream in (True, False, True):
        r = c.post("/api/ask", json={"question": BRIDGE_Q, "today": TODAY, "stream": stream})
        assert r.status_code == 200, r.text
    for body in ({"question": " "}, {"question": " ", "stream": True}):
        assert c.post("/api/ask", json=body).status_code == 400
    assert c.post("/api/ingest", json=[{"title": "t", "text": "Some text."}]).status_code == 200
    assert c.post("/api/ask", json={"question": BRIDGE_Q, "today": TODAY}).status_code == 200


# ---- ingest, articles, delete ----------------------------------------------------------------


def test_ingest_files_then_list_and_delete(client):
    c = client()
    r = c.post("/api/ingest", files=[("files", ("night-train.md", ARTICLE)),
                                     ("files", ("virus.exe", b"MZ\x00"))])  # fmt: skip
    assert r.status_code == 200, r.text
    report = r.json()
    assert len(report["added"]) == 1 and report["chunks"] >= 1
    ((where, reason),) = report["failed"]
    assert where == "virus.exe" and "unsupported" in reason  # not the server's path

    again = c.post("/api/ingest", files={"files": ("night-train.md", ARTICLE)}).json()
    assert again["unchanged"] == report["added"]

    articles = c.get("/api/articles").json()
    train = next(a for a in articles if a["doc_id"] == report["added"][0])
    assert train["title"] == "Night trains return to the valley"
    assert train["published"] == "2024-05-02" and train["chunks"] >= 1

    r = c.delete(f"/api/articles/{train['doc_id']}")
    assert r.status_code == 200 and r.json() == {"deleted": train["doc_id"]}
    r = c.delete(f"/api/articles/{train['doc_id']}")
    assert r.status_code == 404 and "No such article" in r.json()["error"]
    assert train["doc_id"] not in {a["doc_id"] for a in c.get("/api/articles").json()}


def test_ingest_json_records(client):
    c = client()
    records = [
        {"title": "Ferry strike ends", "text": "The ferry strike ended on Monday.",
         "published": "2024-06-03"},
        {"doc_id": "zoo-1", "title": "Zoo opens", "text": "A zoo opened.", "url": "https://zoo.example/1"},
    ]  # fmt: skip
    r = c.post("/api/ingest", json=records)
    assert r.status_code == 200, r.text
    assert len(r.json()["added"]) == 2 and "zoo-1" in r.json()["added"]
    # The same records again (a record without doc_id keeps its id).
    assert sorted(c.post("/api/ingest", json=records).json()["unchanged"]) == sorted(
        r.json()["added"]
    )
    zoo = next(a for a in c.get("/api/articles").json() if a["doc_id"] == "zoo-1")
    assert zoo["url"] == "https://zoo.example/1"


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": [{"title": "no text"}]}, 422),
        ({"json": {"title": "t", "text": "not a list"}}, 422),
        ({"json": []}, 400),
        ({"content": b"title,text\n", "headers": {"content-type": "text/csv"}}, 415),
        ({"data": {"other": "field"}, "files": {"x": ("a.md", b"")}}, 400),
        (
            {
                "content": b"--xx\r\nbroken",
                "headers": {"content-type": "multipart/form-data; boundary=xx"},
            },
            400,
        ),
    ],
)
def test_bad_ingest_requests(client, kwargs, status):
    r = client().post("/api/ingest", **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]


def test_oversize_requests_are_refused_before_parsing(client, settings, embedder, fake_llm):
    small = settings.with_overrides(ingest=IngestSettings(max_file_mb=0.01))
    c = client(assistant=Assistant(small, llm=fake_llm(), embedder=embedder))
    limit = small.ingest.max_file_bytes + small.serve.upload_overhead_kb * 1024
    big = b"x" * (limit + 1)

    # Not even valid multipart: the size alone refuses it.
    r = c.post("/api/ingest", content=big, headers={"content-type": "multipart/form-data"})
    assert r.status_code == 413 and "too large" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = c.post("/api/ingest", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413

    r = c.post("/api/ask", json={"question": "x" * (ServeSettings().max_json_kb * 1024 + 1)})
    assert r.status_code == 413
    # A file over max_file_mb inside a request under the limit is refused by ingest itself.
    payload = b"# Big\n\n" + b"word " * 4000
    r = c.post("/api/ingest", files={"files": ("big.md", payload)})
    assert r.status_code == 200 and "too large" in r.json()["failed"][0][1]


# ---- auth, health, errors, schema ------------------------------------------------------------

ROUTES = [
    ("post", "/api/ask", {"json": {"question": BRIDGE_Q, "today": TODAY}}),
    ("post", "/api/ingest", {"json": [{"title": "t", "text": "Some text."}]}),
    ("get", "/api/articles", {}),
    ("delete", "/api/articles/nope", {}),
]


def test_token_is_required_on_every_route_but_health(client, monkeypatch):
    monkeypatch.setenv("NEWSQA_API_TOKEN", "s3cret")
    c = client(BRIDGE_REPLY)
    for method, path, kwargs in ROUTES:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = getattr(c, method)(path, headers=headers, **kwargs)
            assert r.status_code == 401, (method, path, r.text)
            assert r.headers["www-authenticate"] == "Bearer" and "token" in r.json()["error"]
    assert c.get("/api/health").status_code == 200

    good = {"Authorization": "Bearer s3cret"}
    statuses = [getattr(c, m)(p, headers=good, **kw).status_code for m, p, kw in ROUTES]
    assert statuses == [200, 200, 200, 404]


def test_chat_logins_work_as_basic_auth(client, monkeypatch):
    monkeypatch.delenv("NEWSQA_API_TOKEN", raising=False)
    c = client(logins=[("ann", "pw")])
    assert c.get("/api/articles").status_code == 401
    wrong = base64.b64encode(b"ann:nope").decode()
    assert c.get("/api/articles", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    right = base64.b64encode(b"ann:pw").decode()
    assert c.get("/api/articles", headers={"Authorization": f"Basic {right}"}).status_code == 200


def test_health(client, make_assistant):
    assistant = make_assistant()
    body = client(assistant=assistant).get("/api/health").json()
    assert body["status"] == "ok"
    assert body["articles"] == 3 and body["chunks"] == assistant.store.count() >= 3
    assert body["models_loaded"] == {"embedder": True, "llm": True}


def test_unknown_routes_and_methods_are_json(client):
    c = client()
    r = c.get("/api/nope")
    assert r.status_code == 404 and "No such API route" in r.json()["error"]
    r = c.get("/api/ask")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json()["error"]


def test_openapi_schema_has_the_models_and_the_token(client):
    schema = client().get("/openapi.json").json()
    components = schema["components"]
    assert {"AskRequest", "AnswerOut", "IngestOut", "ArticleOut", "HealthOut", "ErrorOut"} <= set(
        components["schemas"]
    )
    assert components["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    ingest = schema["paths"]["/api/ingest"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} == set(ingest)
    assert "/api/articles/{doc_id}" in schema["paths"]


# ---- schema-driven fuzzing -------------------------------------------------------------------


@pytest.fixture
def api_schema(settings, embedder):
    """The API's own OpenAPI schema over an app whose fake model always has a reply."""
    replies = itertools.repeat(AIMessage(content=BRIDGE_REPLY))
    assistant = Assistant(settings, llm=GenericFakeChatModel(messages=replies), embedder=embedder)
    assistant.ingest([BRIDGE])
    return schemathesis.openapi.from_asgi("/openapi.json", create_api(assistant))


def test_fuzzed_requests_never_get_a_server_error(api_schema):
    """Valid and invalid requests generated from /openapi.json: JSON errors, never a 500."""
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    cases = hypothesis.strategies.one_of(api_schema.as_strategy(generation_mode=m) for m in modes)

    @hypothesis.given(case=cases)
    @hypothesis.settings(
        max_examples=120, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )  # fmt: skip
    def check(case: schemathesis.Case) -> None:
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error])
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, response.text  # JSON, not HTML

    check()


# ---- beside the chat: what `rag serve` runs --------------------------------------------------


def test_serve_mounts_the_chat_beside_the_api(make_assistant, monkeypatch):
    from ui.server import build_server

    monkeypatch.delenv("NEWSQA_API_TOKEN", raising=False)
    app = build_server(make_assistant(), "127.0.0.1", 7860, [("ann", "pw")])
    with TestClient(app, base_url="http://127.0.0.1:7860") as c:
        page = c.get("/", headers={"Accept": "text/html"})  # a browser: sent to log in
        assert page.url.path == "/login" and "password" in page.text
        assert c.get("/api/articles").status_code == 401  # the chat's login guards the API
        assert c.get("/api/health").json()["articles"] is None  # no counts for strangers
        login = {"Authorization": "Basic " + base64.b64encode(b"ann:pw").decode()}
        assert c.get("/api/articles", headers=login).json()
        assert c.get("/api/health", headers=login).json()["articles"] == 3
        assert c.get("/api/nope", headers=login).json() == {"error": "No such API route: /api/nope"}
        assert "/api/ask" in c.get("/openapi.json", headers=login).json()["paths"]
        # LocalGuard covers the API too: a rebound host name or another site is refused.
        # The refusals are JSON errors like the API's own; outside /api/ they are plain text.
        r = c.get("/api/health", headers={"Host": "evil.example"})
        assert r.status_code == 400 and r.json()["error"].startswith("Invalid Host header")
        other = {"Origin": "https://evil.example"}
        r = c.post("/api/ask", json={"question": "x"}, headers=other)
        assert r.status_code == 403 and r.json() == {"error": "Cross-origin request refused."}
        r = c.get("/config", headers=other)
        assert r.status_code == 403 and r.text == "Cross-origin request refused."
        assert r.headers["content-type"].startswith("text/plain")
    open_app = build_server(make_assistant(), "127.0.0.1", 7860, None)
    with TestClient(open_app, base_url="http://127.0.0.1:7860") as c:
        assert c.get("/monitoring").status_code in (403, 404)  # Gradio's traffic page is off
        assert c.get("/api/articles").status_code == 200  # no login configured: open
