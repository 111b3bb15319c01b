"""Timelines of the developing stories in tests/data/stories: real embedder and Chroma."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rag import Assistant

TODAY = date(2025, 7, 1)  # after every story article


def source(assistant: Assistant, doc_id: str) -> str:
    stored = assistant.store.article(doc_id)
    assert stored is not None
    return Path(stored.source).name


def assert_exact(assistant: Assistant, doc_id: str, quote: str, start: int, end: int) -> None:
    stored = assistant.store.article(doc_id)
    assert stored is not None and stored.text[start:end] == quote


def test_strike_events_in_order_with_exact_quotes(story_assistant):
    assistant = story_assistant()  # no replies: any LLM call would fail

    result = assistant.timeline("Castlemere dock strike", today=TODAY)

    assert result.reason is None
    dates = [e.published for e in result.events]
    assert dates == [date(2025, 6, 2), date(2025, 6, 6), date(2025, 6, 9), date(2025, 6, 12)]
    for event in result.events:
        assert_exact(assistant, event.doc_id, event.quote, event.start, event.end)
        assert event.sources[0].doc_id == event.doc_id
    announced, extended, queue, ended = (e.quote for e in result.events)
    assert "will walk out for 48 hours" in announced
    assert "extended until Friday 13 June" in extended
    assert "Sixty-two ships were queuing" in queue
    assert "6% pay rise" in ended


def test_reports_of_one_event_are_merged_with_all_their_sources(story_assistant):
    assistant = story_assistant()

    ended = assistant.timeline("Castlemere dock strike", today=TODAY).events[-1]

    assert sorted(source(assistant, s.doc_id) for s in ended.sources) == [
        "strike-4-ended-coastal.md",
        "strike-4-ended.md",
    ]
    assert all(s.published == date(2025, 6, 12) for s in ended.sources)


def test_revised_casualty_count_reads_12_15_17(story_assistant):
    result = story_assistant().timeline("Varnholt mill fire", today=TODAY)

    assert [e.published for e in result.events] == [
        date(2025, 3, 10),
        date(2025, 3, 11),
        date(2025, 3, 14),
    ]
    first, second, third = (e.quote for e in result.events)
    assert "killed 12 people" in first
    assert "has risen to 15" in second
    assert "to 17" in third


def test_widened_recall(story_assistant):
    result = story_assistant().timeline("Kestrel kettle recall", today=TODAY)

    quotes = [e.quote for e in result.events]
    assert len(quotes) == 3
    assert "recalling 40,000" in quotes[0]
    assert "120,000 units" in quotes[1]
    assert "formal investigation" in quotes[2]


@pytest.mark.parametrize(
    ("topic", "outsider"),
    [
        ("Castlemere dock strike", "other-rail-strike.md"),
        ("Varnholt mill fire", "other-warehouse-fire.md"),
        ("Kestrel kettle recall", "other-van-recall.md"),
    ],
)
def test_a_similar_story_elsewhere_stays_out(story_assistant, topic, outsider):
    assistant = story_assistant()

    result = assistant.timeline(topic, today=TODAY)

    sources = {source(assistant, s.doc_id) for e in result.events for s in e.sources}
    assert outsider not in sources


def test_dates_bound_the_timeline(story_assistant):
    assistant = story_assistant()

    later = assistant.timeline("Castlemere dock strike", since=date(2025, 6, 5), today=TODAY)
    early = assistant.timeline("Castlemere dock strike", today=date(2025, 6, 7))

    assert [e.published for e in later.events][0] == date(2025, 6, 6)
    assert [e.published for e in early.events] == [date(2025, 6, 2), date(2025, 6, 6)]


def test_limit_keeps_the_best_matching_events_in_date_order(story_assistant):
    result = story_assistant().timeline("Castlemere dock strike", today=TODAY, limit=2)

    assert len(result.events) == 2
    assert result.events[0].published < result.events[1].published


def test_a_topic_nothing_covers_gives_no_events_and_the_reason(story_assistant):
    assistant = story_assistant()

    unknown = assistant.timeline("Patriot systems for Ukraine", today=TODAY)
    too_early = assistant.timeline("Castlemere dock strike", until=date(2025, 5, 1), today=TODAY)

    assert unknown.events == [] and unknown.reason
    assert "ukraine" in unknown.reason.lower() or "patriot" in unknown.reason.lower()
    assert too_early.events == [] and too_early.reason
    assert "2025-05-01" in too_early.reason


def test_json_shape(story_assistant):
    data = story_assistant().timeline("Varnholt mill fire", today=TODAY).to_dict()

    assert set(data) == {"topic", "events", "reason"}
    event = data["events"][0]
    assert set(event) == {
        "published",
        "doc_id",
        "title",
        "quote",
        "start",
        "end",
        "sources",
        "heading",
    }
    assert event["published"] == "2025-03-10"
    assert set(event["sources"][0]) == {"doc_id", "title", "published"}


def test_headings_are_verified_against_their_event_or_dropped(story_assistant):
    reply = (
        "1. Dockworkers announce a 48-hour walkout\n"
        "2. Castlemere strike extended until 13 June\n"
        "3. Sixty-two ships queue off Castlemere\n"
        "4. Strike ends after a 9% pay deal\n"
    )
    assistant = story_assistant(reply)

    result = assistant.timeline("Castlemere dock strike", today=TODAY, headings=True)

    headings = [e.heading for e in result.events]
    assert headings[0] and "48-hour walkout" in headings[0]
    assert headings[1] and "13 June" in headings[1]
    assert headings[3] is None  # 9% is not what the article says (6%)
