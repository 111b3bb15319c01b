"""/api/timeline, /api/changes and the news fields of /api/ask, through FastAPI's TestClient.

Real embedder and Chroma over tests/data/stories (``story_assistant``); the chat model
quotes the article sentences holding given phrases (``fakes.QuotingChatModel``).
"""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any

import pytest
from fakes import QuotingChatModel
from fastapi.testclient import TestClient

from rag.assistant import Assistant
from ui.access import Access
from ui.api import AnswerOut, ChangesOut, TimelineOut, create_api
from ui.policy import Policy

TODAY = "2025-07-01"  # after every story article
STILL_ON = "Is the Castlemere dock strike still on?"
EXTENDED, ENDED = "extended until Friday 13 June", "ended on Wednesday night"


def client(assistant: Assistant, token: str = "") -> TestClient:
    """The REST API behind the door policy, as `rag serve` runs it (ui.server)."""
    door = Access.from_env([], token)
    app = Policy(create_api(assistant), access=door, settings=assistant.settings)
    return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)


def quoting(story_assistant: Any, *phrases: str) -> Assistant:
    return story_assistant(llm=QuotingChatModel(phrases=list(phrases)))


def sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def exact(assistant: Assistant, item: dict[str, Any]) -> bool:
    stored = assistant.store.article(item["doc_id"])
    return stored is not None and stored.text[item["start"] : item["end"]] == item["quote"]


# ---- /api/timeline ---------------------------------------------------------------------------


def test_timeline_is_the_json_of_rag_timeline(story_assistant):
    assistant = story_assistant()  # no replies: a model call would fail
    body = {"topic": "Varnholt mill fire", "today": TODAY}

    r = client(assistant).post("/api/timeline", json=body)

    assert r.status_code == 200, r.text
    data = r.json()
    expected = assistant.timeline("Varnholt mill fire", today=date(2025, 7, 1)).to_dict()
    assert data == expected
    assert TimelineOut.model_validate(expected).model_dump(mode="json") == data
    assert [e["published"] for e in data["events"]] == ["2025-03-10", "2025-03-11", "2025-03-14"]
    assert all(exact(assistant, e) for e in data["events"])
    assert data["reason"] is None


def test_timeline_options_and_reasons(story_assistant):
    c = client(story_assistant())
    body = {"topic": "Castlemere dock strike", "today": TODAY, "since": "2025-06-05", "limit": 2}
    events = c.post("/api/timeline", json=body).json()["events"]
    assert len(events) == 2 and all(e["published"] >= "2025-06-05" for e in events)
    assert [e["published"] for e in events] == sorted(e["published"] for e in events)

    none = c.post("/api/timeline", json={"topic": "Quokka parliament", "today": TODAY}).json()
    assert none["events"] == [] and none["reason"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"topic": "   ", "today": TODAY}, 400),
        ({"topic": "x" * 2001}, 400),
        ({"topic": "strike", "limit": 0}, 422),
        ({"topic": "strike", "colour": "red"}, 422),
        ({}, 422),
    ],
)
def test_bad_timeline_requests_are_json_errors(story_assistant, body, status):
    r = client(story_assistant()).post("/api/timeline", json=body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"}


# ---- /api/changes ----------------------------------------------------------------------------


def test_changes_is_the_json_of_rag_ask_since_then(story_assistant):
    body = {"question": STILL_ON, "since": "2025-06-07", "today": "2025-06-13"}

    r = client(quoting(story_assistant, EXTENDED, ENDED)).post("/api/changes", json=body)

    assert r.status_code == 200, r.text
    data = r.json()
    expected = quoting(story_assistant, EXTENDED, ENDED).changes(
        STILL_ON, date(2025, 6, 7), today=date(2025, 6, 13)
    )
    assert data["difference"] == expected.difference and data["changed"] is expected.changed
    assert set(data) == set(expected.to_dict())
    assert ChangesOut.model_validate(data).model_dump(mode="json").keys() == data.keys()
    assert (data["since"], data["today"]) == ("2025-06-07", "2025-06-13")
    assert [c["published"] for c in data["before"]["citations"]] == ["2025-06-06"]
    assert [c["published"] for c in data["after"]["citations"]] == ["2025-06-12"]
    assert data["changed"] and data["difference"].endswith(
        "became Wednesday 11 June 2025 ("
        + ("Castlemere dock strike ends as workers accept 6% pay deal, 12 June 2025).")
    )
    assert all(exact(quoting(story_assistant), r) for r in data["evidence"])


def test_changes_streams_both_answers_then_the_difference(story_assistant):
    body = {"question": STILL_ON, "since": "2025-06-07", "today": "2025-06-13", "stream": True}

    r = client(quoting(story_assistant, EXTENDED, ENDED)).post("/api/changes", json=body)

    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse(r.text)
    names = [name for name, _ in events]
    assert names[-1] == "changes" and names.count("answer") == 2
    first, second = (i for i, name in enumerate(names) if name == "answer")
    assert all(d["as_of"] == "2025-06-07" for _, d in events[:first] if "as_of" in d)
    assert {d["as_of"] for name, d in events[first + 1 : second] if name == "token"} <= {
        "2025-06-13"
    }
    assert events[first][1]["as_of"] == "2025-06-07" and events[second][1]["as_of"] == "2025-06-13"
    assert EXTENDED in events[first][1]["answer"]["answer"]
    assert ENDED in events[second][1]["answer"]["answer"]
    assert events[-1][1]["changed"] is True


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"question": STILL_ON, "since": "2025-06-13", "today": "2025-06-13"}, 400, "before"),
        ({"question": STILL_ON, "today": "2025-06-13"}, 422, "since"),
        ({"question": STILL_ON, "since": "2025-06-07", "until": "2025-06-09"}, 422, "until"),
        ({"question": "", "since": "2025-06-07"}, 400, "empty"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_changes_requests_are_json_errors(story_assistant, body, status, message, stream):
    r = client(story_assistant()).post("/api/changes", json={**body, "stream": stream})
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


# ---- the news fields of /api/ask -------------------------------------------------------------


def test_ask_carries_reports_that_differ_and_the_freshness_note(story_assistant):
    toll = {"question": "How many people died in the Varnholt mill fire?", "today": "2025-03-15"}
    c = client(quoting(story_assistant, "killed 12", "risen to 15", "to 17"))
    body = c.post("/api/ask", json=toll).json()
    assert body["disagreements"] and body["freshness_note"] is None
    assert AnswerOut.model_validate(body).model_dump(mode="json") == body
    for d in body["disagreements"]:
        assert d["text"].startswith("Reports differ: ") and d["used"] == "newer"
        assert exact(quoting(story_assistant), d["older"]) and d["newer"]["value"] == "17"

    offer = {"question": "What pay rise did Castlemere Terminals offer?", "today": "2025-06-20"}
    body = client(quoting(story_assistant, "offer of a 4% rise")).post("/api/ask", json=offer)
    note = body.json()["freshness_note"]
    assert note["based_on"] == "2025-06-02" and note["newer"][0]["published"] == "2025-06-12"
    assert note["text"].startswith("Based on a report of 2 June 2025; newer articles: ")


# ---- the door: the same token, body limit and guard as every route ---------------------------


def test_news_routes_need_the_token_and_keep_the_body_limit(story_assistant):
    c = client(story_assistant(), token="s3cret")
    good = {"Authorization": "Bearer s3cret"}
    timeline = {"topic": "Varnholt mill fire", "today": TODAY}
    changes = {"question": STILL_ON, "since": "2025-06-07", "today": "2025-06-13"}
    limit = story_assistant().settings.serve.max_json_kb * 1024
    for path, body in (("/api/timeline", timeline), ("/api/changes", changes)):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = c.post(path, json=body, headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert set(r.json()) == {"error"}
        r = c.post(path, json={**body, "padding": "x" * (limit + 1)}, headers=good)
        assert r.status_code == 413 and "too large" in r.json()["error"]
    r = c.post("/api/timeline", json=timeline, headers=good)
    assert r.status_code == 200 and r.json()["events"]


def test_news_routes_are_inside_the_served_app(story_assistant, monkeypatch):
    from ui.server import build_server

    monkeypatch.delenv("NEWSQA_API_TOKEN", raising=False)
    app = build_server(story_assistant(), "127.0.0.1", 7860, [("ann", "pw")])
    timeline = {"topic": "Varnholt mill fire", "today": TODAY}
    with TestClient(app, base_url="http://127.0.0.1:7860") as c:
        assert c.post("/api/timeline", json=timeline).status_code == 401  # the chat's login
        login = {"Authorization": f"Basic {base64.b64encode(b'ann:pw').decode()}"}
        assert c.post("/api/timeline", json=timeline, headers=login).json()["events"]
        other = {"Origin": "https://evil.example", **login}
        r = c.post(
            "/api/changes", json={"question": STILL_ON, "since": "2025-06-07"}, headers=other
        )
        assert r.status_code == 403
        paths = c.get("/openapi.json", headers=login).json()["paths"]
        assert {"/api/timeline", "/api/changes"} <= set(paths)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/ask",
            {"question": "Was the Castlemere strike on this week?", "today": "0001-01-02"},
        ),
        ("/api/changes", {"question": STILL_ON, "since": "0001-01-01", "today": "0001-01-03"}),
        ("/api/timeline", {"topic": "Castlemere dock strike", "today": "0001-01-02"}),
        ("/api/timeline", {"topic": "Castlemere dock strike", "since": "9999-12-30"}),
    ],
)
def test_dates_no_article_can_have_are_refused_alike(story_assistant, path, body):
    r = client(story_assistant()).post(path, json=body)  # no model call
    assert r.status_code == 400, r.text
    assert "is outside the dates articles can have" in r.json()["error"]
