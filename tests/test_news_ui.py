"""The chat's news views (ui/app.py handlers, ui/render.py) and the model slot of the news
routes: real embedder and Chroma over tests/data/stories, the quoting fake chat model."""

from __future__ import annotations

from datetime import date
from typing import Any

from fakes import QuotingChatModel
from fastapi.testclient import TestClient

from rag.types import (
    Answer,
    Changes,
    Disagreement,
    EventSource,
    FreshnessNote,
    Report,
    Timeline,
    TimelineEvent,
)
from ui import render
from ui.access import Access
from ui.api import create_api
from ui.app import ANSWER, CHANGES, TIMELINE, Handlers
from ui.policy import Policy

TODAY = "2025-07-01"
STILL_ON = "Is the Castlemere dock strike still on?"
PHRASES = ["killed 12", "risen to 15", "to 17", "extended until Friday 13 June", "ended on"]
MARKUP = "<img src=x onerror=alert(1)> <script>alert(2)</script>"
HOSTILE = f"{MARKUP} see https://evil.example/x"  # article text: escaped, links defanged


def handlers(story_assistant: Any) -> Handlers:
    return Handlers(story_assistant(llm=QuotingChatModel(phrases=PHRASES)))


def run(h: Handlers, question: str, **options: Any) -> tuple[str, Any]:
    """Submit ``question`` and run the chat's answer event to its end: (html, the turn)."""
    _, _, turns, pending = h.submit(question, [])
    for _, shown in h.respond(pending, turns, today=TODAY, **options):
        turns = shown
    return turns[-1].html, turns[-1]


# ---- the handlers ----------------------------------------------------------------------------


def test_timeline_by_mode_and_by_prefix(story_assistant):
    h = handlers(story_assistant)
    by_mode, turn = run(h, "Varnholt mill fire", mode=TIMELINE)
    by_prefix, _ = run(h, "/timeline Varnholt mill fire", mode=ANSWER)
    assert by_mode == by_prefix
    assert by_mode.count('class="nq-event"') == 3 and "oldest first" in by_mode
    days = ['datetime="2025-03-10"', 'datetime="2025-03-11"', 'datetime="2025-03-14"']
    assert [by_mode.index(d) for d in days] == sorted(by_mode.index(d) for d in days)
    assert turn.done and turn.answer is None  # no answer to follow up on
    assert h.assistant.llm.calls == 0  # extractive: no model call

    nothing, _ = run(h, "Quokka parliament", mode=TIMELINE)
    assert "No timeline for “Quokka parliament”" in nothing and "Why:" in nothing


def test_what_changed_since_shows_both_answers_and_the_difference(story_assistant):
    h = handlers(story_assistant)
    html, turn = run(h, STILL_ON, mode=CHANGES, changes_since="2025-06-07")
    assert html.count('class="nq-asof"') == 2
    assert 'datetime="2025-06-07"' in html and 'datetime="2025-07-01"' in html
    first, second = html.index("extended until Friday 13 June"), html.index("ended on")
    assert first < second < html.index("What changed:")
    assert "became Wednesday 11 June 2025" in html
    assert turn.answer is not None and "ended on" in turn.answer  # the answer as of today
    assert not h._model.locked()  # the model was given back


def test_what_changed_since_needs_a_date_before_today(story_assistant):
    h = handlers(story_assistant)
    html, turn = run(h, STILL_ON, mode=CHANGES)
    assert "Pick the date to compare with" in html and turn.answer is None
    html, _ = run(h, STILL_ON, mode=CHANGES, changes_since="2025-07-02")
    assert "must be before today" in html
    assert h.assistant.llm.calls == 0


def test_answers_show_reports_that_differ(story_assistant):
    html, _ = run(handlers(story_assistant), "How many people died in the Varnholt mill fire?")
    assert html.count('class="nq-differ-item"') == 2 and "Reports differ: " in html
    assert "the answer uses the newer report" in html
    assert html.index("Reports differ") < html.index("nq-card")  # under the answer text


# ---- rendering untrusted text ----------------------------------------------------------------


def _report(day: int, quote: str, value: str) -> Report:
    return Report(f"d{day}", f"Title {MARKUP}", date(2025, 6, day), quote, 0, len(quote), value)


def test_news_views_escape_markup_and_defang_links():
    older, newer = _report(2, f"It killed 12 {HOSTILE}.", "12"), _report(5, "It killed 15.", "15")
    source = EventSource("d5", f"Newer {MARKUP}", date(2025, 6, 5))
    answer = Answer(
        "q",
        "It killed 15.",
        disagreements=[Disagreement("number", older, newer, used="newer")],
        freshness=FreshnessNote(date(2025, 6, 2), [source]),
    )
    event = TimelineEvent(date(2025, 6, 2), "d2", MARKUP, older.quote, 0, 9, [source, source])
    timeline = Timeline(MARKUP, [event])
    changes = Changes("q", date(2025, 6, 3), date(2025, 7, 1), answer, answer, True,
                      f"New: {HOSTILE}", [older])  # fmt: skip
    for html in (
        render.notes_html(answer),
        render.timeline_html(timeline),
        render.timeline_html(Timeline(MARKUP, [], reason=MARKUP)),
        render.changes_html(changes, [(date(2025, 6, 3), "<p>x</p>")]),
    ):
        assert "<img" not in html and "<script" not in html and "&lt;img" in html
        assert "https://evil.example" not in html
    assert "evil[.]example" in render.notes_html(answer) + render.timeline_html(timeline)


# ---- the model slot of the news routes -------------------------------------------------------


def test_news_routes_take_the_model_slot_only_for_the_model(story_assistant):
    assistant = story_assistant(llm=QuotingChatModel(phrases=PHRASES))
    api = create_api(assistant)
    app = Policy(api, access=Access.from_env([], ""), settings=assistant.settings)
    slots = api.state.model_slots
    c = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    changes = {"question": STILL_ON, "since": "2025-06-07", "today": TODAY}

    assert c.post("/api/changes", json=changes).status_code == 200
    r = c.post("/api/changes", json={**changes, "stream": True})
    assert r.status_code == 200 and "event: changes" in r.text
    assert slots.used == 0  # given back after both answers

    slots.used = slots.size  # every slot busy: the model is not free
    try:
        timeline = {"topic": "Varnholt mill fire", "today": TODAY}
        assert c.post("/api/timeline", json=timeline).status_code == 200  # no model call
        busy = c.post("/api/changes", json=changes)
        assert busy.status_code == 503 and busy.headers["retry-after"]
        headed = c.post("/api/timeline", json={**timeline, "headings": True})
        assert headed.status_code == 503
    finally:
        slots.used = 0
