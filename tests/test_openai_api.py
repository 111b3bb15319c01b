"""The OpenAI-compatible API (ui/openai_api.py) as `rag serve` assembles it, through TestClient.

Real embedder and Chroma, scripted LLM. The official clients against a running server are in
tests/test_other_tools.py.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import DATA
from fastapi.testclient import TestClient
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatResult

from rag.assistant import Assistant
from rag.config import ServeSettings
from rag.errors import ModelError
from ui.openai_api import ChatMessage, content, conversation

URL = "http://127.0.0.1:7860"
BRIDGE_Q = "When did the Harbour Bridge open?"
BRIDGE_REPLY = "The Harbour Bridge opened to traffic on Tuesday morning [1]."
QUOTE = "opened to traffic on Tuesday morning"
TODAY = "2024-12-01"


@pytest.fixture
def server(make_assistant, monkeypatch) -> Iterator[Any]:
    """``server(*replies, token=None, assistant=None)``: a TestClient on `build_server`."""
    from ui.server import build_server

    clients: list[TestClient] = []

    def make(
        *replies: str,
        token: str | None = None,
        assistant: Assistant | None = None,
        logins: list[tuple[str, str]] | None = None,
    ) -> TestClient:
        if token:
            monkeypatch.setenv("NEWSQA_API_TOKEN", token)
        else:
            monkeypatch.delenv("NEWSQA_API_TOKEN", raising=False)
        app = build_server(assistant or make_assistant(*replies), "127.0.0.1", 7860, logins)
        client = TestClient(app, base_url=URL, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def ask(question: str = BRIDGE_Q, **fields: Any) -> dict[str, Any]:
    return {
        "model": "newsqa",
        "messages": [{"role": "user", "content": question}],
        "today": TODAY,
        **fields,
    }


def chunks(text: str) -> list[Any]:
    """The data of each server-sent event ("[DONE]" as a string); comments are skipped."""
    found = []
    for block in text.strip().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                found.append(data if data == "[DONE]" else json.loads(data))
    return found


def assert_refused(r: Any, status: int) -> None:
    """A refusal by the layers in front of the API (guard, token, body limit): JSON ``error``.

    Its shape is OpenAI's today; the outer door policy may answer ``{"error": message}``,
    which OpenAI clients read as well.
    """
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert isinstance(error, str) or set(error) >= {"message", "type", "code"}, error


def assert_openai_error(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) >= {"message", "type", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code, error
    return error


# ---- the happy path --------------------------------------------------------------------------


def test_models_lists_newsqa(server):
    c = server()
    body = c.get("/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["newsqa"]
    assert body["data"][0]["object"] == "model"
    assert c.get("/v1/models/newsqa").json()["id"] == "newsqa"
    assert_openai_error(c.get("/v1/models/gpt-4o"), 404, "model_not_found")


def test_completion_is_the_cited_answer_with_sources(server):
    r = server(BRIDGE_REPLY).post("/v1/chat/completions", json=ask())

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "newsqa"
    assert body["id"].startswith("chatcmpl-") and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    text = choice["message"]["content"]
    answer, sources = text.split("\n\n**Sources**\n\n")
    assert answer == BRIDGE_REPLY
    assert sources.startswith("- [1] Harbour Bridge opens to traffic after six years of work")
    assert "(2024-03-12)" in sources and QUOTE in sources
    # The structured citations: the same objects as `rag ask --json`, one per [n].
    (citation,) = body["citations"]
    assert citation["n"] == 1 and citation["published"] == "2024-03-12"
    assert QUOTE in citation["quote"] and citation["end"] > citation["start"]
    assert set(citation) >= {"doc_id", "title", "url", "published", "quote", "start", "end"}
    assert body["abstained"] is False and body["abstain_reason"] is None


def test_stream_sends_chunks_then_done(server):
    c = server(BRIDGE_REPLY)
    r = c.post("/v1/chat/completions", json=ask(stream=True))

    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = chunks(r.text)
    assert events[-1] == "[DONE]"
    data = events[:-1]
    assert all(e["object"] == "chat.completion.chunk" for e in data)
    assert len({e["id"] for e in data}) == 1
    assert data[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in data)
    assert data[-1]["choices"][0]["finish_reason"] == "stop"
    assert data[-1]["citations"][0]["n"] == 1 and data[-1]["abstained"] is False
    # The same content as without streaming.
    plain = server(BRIDGE_REPLY).post("/v1/chat/completions", json=ask()).json()
    assert text == plain["choices"][0]["message"]["content"]


def test_abstention_is_a_normal_reply_that_says_why(server):
    r = server().post("/v1/chat/completions", json=ask("Who won the chess olympiad on Mars?"))

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["abstained"] is True and body["citations"] == []
    text = body["choices"][0]["message"]["content"]
    assert text.startswith("The articles don't say.")
    assert body["abstain_reason"] and f"({body['abstain_reason']})" in text


def test_our_options_and_unknown_fields(server):
    c = server(BRIDGE_REPLY)
    # Unknown fields (as OpenAI clients send) are ignored; ours are used: `until` before the
    # bridge article leaves nothing to answer from.
    extra = {
        "user": "u1",
        "seed": 3,
        "stream_options": {"include_usage": True},
        "tools": [],
        "response_format": {"type": "text"},
        "max_tokens": 5,
        "temperature": 0.2,
        "n": 1,
    }
    r = c.post("/v1/chat/completions", json=ask(until="2024-01-01", k=2, **extra))
    assert r.status_code == 200, r.text
    assert r.json()["abstained"] is True
    r = c.post("/v1/chat/completions", json=ask(since="2024-03-01", k=2, **extra))
    assert r.json()["abstained"] is False, r.json()


def test_history_is_condensed_as_in_the_chat(server):
    c = server("How much did the Harbour Bridge cost?", "It cost 410 million euros [1].")
    messages = [
        {"role": "system", "content": "You are a pirate."},  # ignored: our prompt is fixed
        {"role": "user", "content": BRIDGE_Q},
        {"role": "assistant", "content": f"{BRIDGE_REPLY}\n\n**Sources**\n\n- [1] Harbour …"},
        {"role": "user", "content": [{"type": "text", "text": "How much did it cost?"}]},
    ]
    r = c.post(
        "/v1/chat/completions", json={"model": "newsqa", "messages": messages, "today": TODAY}
    )
    assert r.status_code == 200, r.text
    assert "410 million" in r.json()["choices"][0]["message"]["content"]


def test_conversation_splits_question_and_history():
    def msgs(*pairs: tuple[str, str]) -> list[ChatMessage]:
        return [ChatMessage(role=role, content=text) for role, text in pairs]  # type: ignore[arg-type]

    question, history = conversation(
        msgs(
            ("assistant", "Hello!"),
            ("user", "a"),
            ("user", "b"),
            ("assistant", "B [1].\n\n**Sources**\n\n- [1] x"),
            ("tool", "t"),
            ("user", "c"),
        ),
        20,
    )
    assert question == "c" and history == [("a\nb", "B [1].")]
    assert (
        conversation(msgs(*[("user", "q"), ("assistant", "a")] * 30, ("user", "z")), 20)[1]
        == [("q", "a")] * 20
    )


def test_sources_escape_markdown_in_article_text(make_assistant):
    from rag.types import Answer, Citation

    hostile = Citation(
        1,
        "d",
        "Click [here](http://evil.example) ![x](http://evil.example/p.png)",
        "javascript:alert(1)",
        None,
        "A <img src=x onerror=alert(1)> *quote*",
        0,
        10,
        1.0,
        "d:0",
    )
    text = content(Answer("q", "It happened <b>here</b> [1].", [hostile]))
    # Every bracket and angle bracket of article text is escaped: no link, image or tag.
    assert not re.search(r"(?<!\\)[\[\]<>]", text.split("- [1] ")[1]), text
    assert "<" not in text.replace("\\<", "")
    assert "javascript:" not in text  # only http(s) URLs become links
    assert text.startswith("It happened \\<b>here\\</b> [1].")  # "<" escaped: no tag


# ---- refusals: the same as /api/ -------------------------------------------------------------


def test_token_is_required_when_set(server):
    c = server(BRIDGE_REPLY, token="s3cret")
    for r in [
        c.get("/v1/models"),
        c.post("/v1/chat/completions", json=ask()),
        c.get("/v1/models", headers={"Authorization": "Bearer wrong"}),
    ]:
        assert_refused(r, 401)
    assert c.get("/api/articles").status_code == 401  # as on /api/
    ok = {"Authorization": "Bearer s3cret"}
    assert c.get("/v1/models", headers=ok).status_code == 200
    assert c.post("/v1/chat/completions", json=ask(), headers=ok).status_code == 200


def test_chat_logins_work_as_basic_auth(server):
    c = server(logins=[("ann", "pw")])
    assert_refused(c.get("/v1/models"), 401)
    login = base64.b64encode(b"ann:pw").decode()
    assert c.get("/v1/models", headers={"Authorization": f"Basic {login}"}).status_code == 200


def test_guard_refuses_other_sites_and_rebound_hosts(server):
    c = server()
    r = c.post("/v1/chat/completions", json=ask(), headers={"Origin": "https://evil.example"})
    assert_refused(r, 403)
    assert (
        c.post(
            "/api/ask", json={"question": "x"}, headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    r = c.get("/v1/models", headers={"Host": "evil.example"})
    assert_refused(r, 400)
    assert c.get("/v1/models", headers={"Origin": URL}).status_code == 200  # its own page


def test_oversized_bodies_are_413_before_parsing(server, settings, embedder, fake_llm):
    small = settings.model_copy(update={"serve": ServeSettings(max_json_kb=1)})
    c = server(assistant=Assistant(small, llm=fake_llm(), embedder=embedder))
    big = ask("x" * 2000)
    assert_refused(c.post("/v1/chat/completions", json=big), 413)
    assert c.post("/api/ask", json={"question": "x" * 2000}).status_code == 413  # as /api/

    def chunked() -> Iterator[bytes]:
        yield json.dumps(big).encode()

    r = c.post(
        "/v1/chat/completions", content=chunked(), headers={"Content-Type": "application/json"}
    )
    assert_refused(r, 413)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "newsqa"}, "messages"),
        ({"model": "newsqa", "messages": "hi"}, "messages"),
        ({"model": "newsqa", "messages": []}, "messages"),
        ({"model": "newsqa", "messages": [{"role": "user", "content": 42}]}, "messages.0"),
        ({"model": "newsqa", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        (ask(stream="maybe"), "stream"),
        (ask(k=0), "k"),
        (ask(k="many"), "k"),
        (ask(today="yesterday"), "today"),
        (ask(n=2), "n"),
        (ask(temperature=9), "temperature"),
        (ask(max_tokens=-1), "max_tokens"),
    ],
)
def test_wrong_types_are_openai_shaped_400s(server, body, param):
    r = server().post("/v1/chat/completions", json=body)
    error = assert_openai_error(r, 400, "invalid_value")
    assert error["type"] == "invalid_request_error"
    assert error["param"].startswith(param), error


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        ([{"role": "assistant", "content": "Hi"}], "invalid_value"),
        ([{"role": "user", "content": "   "}], "invalid_question"),
        ([{"role": "user", "content": "x" * 5000}], "invalid_question"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            "unsupported_content",
        ),
    ],
)
def test_bad_questions_are_400s(server, messages, code):
    c = server()
    for stream in (False, True):
        r = c.post(
            "/v1/chat/completions", json={"model": "newsqa", "messages": messages, "stream": stream}
        )
        assert_openai_error(r, 400, code)


def test_not_json_unknown_routes_and_models(server):
    c = server()
    r = c.post(
        "/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_openai_error(r, 400)
    assert_openai_error(c.get("/v1/nope"), 404)
    assert_openai_error(c.get("/v1/chat/completions"), 405)
    assert_openai_error(
        c.post("/v1/chat/completions", json=ask(model="gpt-4")), 404, "model_not_found"
    )


def test_empty_store_is_409(server, make_assistant):
    r = server(assistant=make_assistant(ingest=False)).post("/v1/chat/completions", json=ask())
    assert_openai_error(r, 409, "empty_store")


class _Down(BaseChatModel):
    @property
    def _llm_type(self) -> str:
        return "down"

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise ModelError("cannot reach the model server at http://127.0.0.1:9")


def test_model_errors_are_503_and_stream_errors_are_events(server, settings, embedder):
    assistant = Assistant(settings, llm=_Down(), embedder=embedder)
    from conftest import DATA

    assistant.ingest([DATA])
    c = server(assistant=assistant)
    error = assert_openai_error(c.post("/v1/chat/completions", json=ask()), 503)
    assert error["type"] == "server_error" and "cannot reach" in error["message"]
    r = c.post("/v1/chat/completions", json=ask(stream=True))
    assert_openai_error(r, 503)  # before the first chunk: a plain error response


def test_busy_model_is_503_with_retry_after(server, settings, embedder, fake_llm):
    none = settings.model_copy(update={"serve": ServeSettings(model_slots=0)})
    assistant = Assistant(none, llm=fake_llm(), embedder=embedder)
    assistant.ingest([DATA])  # the question reaches the model: it needs a slot, none is free
    c = server(assistant=assistant)
    r = c.post("/v1/chat/completions", json=ask())
    assert_openai_error(r, 503, "model_busy")
    assert r.headers["retry-after"] == "30"
