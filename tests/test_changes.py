"""What changed since a date, on the developing stories (real embedder and Chroma, scripted LLM)."""

from __future__ import annotations

from datetime import date

import pytest

from rag import Answer, Token
from rag.changes import compare
from rag.config import NewsSettings
from rag.errors import InvalidQuestionError
from rag.types import Changes, Citation

STILL_ON = "Is the Castlemere dock strike still on?"
EXTENDED = "The strike at the Port of Castlemere has been extended until Friday 13 June [1]."
ENDED = "The strike at the Port of Castlemere ended on Wednesday night [1]."


def assert_exact(assistant, doc_id: str, quote: str, start: int, end: int) -> None:
    stored = assistant.store.article(doc_id)
    assert stored is not None and stored.text[start:end] == quote


def test_the_strike_before_and_after_with_dates(story_assistant):
    assistant = story_assistant(EXTENDED, ENDED)

    result = assistant.changes(STILL_ON, since=date(2025, 6, 7), today=date(2025, 6, 13))

    assert (result.since, result.today) == (date(2025, 6, 7), date(2025, 6, 13))
    assert "extended until Friday 13 June" in result.before.text
    assert [c.published for c in result.before.citations] == [date(2025, 6, 6)]
    assert "ended on Wednesday night" in result.after.text
    assert [c.published for c in result.after.citations] == [date(2025, 6, 12)]
    assert result.changed
    assert result.difference.startswith("Friday 13 June (")
    assert "11 June 2025" in result.difference and "12 June 2025" in result.difference
    older, newer = result.evidence
    assert (older.published, newer.published) == (date(2025, 6, 6), date(2025, 6, 12))
    for r in result.evidence:
        assert_exact(assistant, r.doc_id, r.quote, r.start, r.end)
    assert result.newest == date(2025, 6, 12)


def test_the_revised_toll_before_and_after(story_assistant):
    assistant = story_assistant(
        "A fire at a textile mill in Varnholt killed 12 people [1].",
        "Officials revised the death toll from the Varnholt mill fire to 17 [1].",
    )

    result = assistant.changes(
        "How many people have died in the Varnholt mill fire?",
        since=date(2025, 3, 10),
        today=date(2025, 3, 15),
    )

    assert [c.published for c in result.before.citations] == [date(2025, 3, 10)]
    assert [c.published for c in result.after.citations] == [date(2025, 3, 14)]
    assert result.changed
    assert result.difference == (
        "12 (Fire at Varnholt textile mill kills 12, 10 March 2025) became "
        "17 (Varnholt fire toll revised to 17, 14 March 2025)."
    )


def test_no_newer_article_means_one_answer_and_no_change(story_assistant):
    assistant = story_assistant(ENDED)  # one reply: a second model call would fail

    result = assistant.changes(STILL_ON, since=date(2025, 6, 13), today=date(2025, 7, 1))

    assert result.after is result.before
    assert not result.changed
    assert result.difference == "No newer article changes this (newest article: 12 June 2025)."
    assert result.newest == date(2025, 6, 12) and result.evidence == []


def citation(doc_id: str, published: date, quote: str) -> Citation:
    return Citation(1, doc_id, doc_id.title(), None, published, quote, 0, len(quote), 1.0, doc_id)


def test_newer_articles_that_only_repeat_change_nothing(embedder):
    said = "Dockworkers at the Port of Castlemere will walk out for 48 hours from Thursday."
    again = "Dockworkers at the Port of Castlemere are walking out for 48 hours from Thursday."
    before = Answer("q", "a", [citation("first", date(2025, 6, 2), said)])
    after = Answer("q", "a", [citation("second", date(2025, 6, 4), again)])

    result = compare(
        "q", date(2025, 6, 3), date(2025, 6, 20), before, after, embedder.encode, NewsSettings()
    )

    assert not result.changed
    assert result.difference == "No newer article changes this (newest article: 4 June 2025)."


def test_nothing_known_then_something_now(story_assistant):
    assistant = story_assistant(
        "The articles don't say.",
        "The articles don't say.",  # the second look, at the next-best passages of then
        "The dockworkers voted to accept a 6% pay rise [1].",
    )

    result = assistant.changes(
        "What pay rise did the Castlemere dockworkers accept?",
        since=date(2025, 6, 3),
        today=date(2025, 6, 20),
    )

    assert result.before.abstained and not result.after.abstained
    assert result.changed
    assert result.difference.startswith("New since 3 June 2025: “")
    assert "6% pay rise" in result.difference and "12 June 2025" in result.difference
    (report,) = result.evidence
    assert_exact(assistant, report.doc_id, report.quote, report.start, report.end)


def test_stream_order_first_answer_first(story_assistant):
    assistant = story_assistant(EXTENDED, ENDED)

    events = list(
        assistant.stream_changes(STILL_ON, since=date(2025, 6, 7), today=date(2025, 6, 13))
    )

    assert isinstance(events[0], Token)  # the first answer starts at once
    kinds = [type(e).__name__ for e in events if not isinstance(e, Token)]
    assert kinds == ["Answer", "Answer", "Changes"]
    first = next(i for i, e in enumerate(events) if isinstance(e, Answer))
    assert isinstance(events[first + 1], Token)  # then the second answer's tokens


def test_since_must_be_before_today(story_assistant):
    with pytest.raises(InvalidQuestionError, match="before today"):
        story_assistant().changes(STILL_ON, since=date(2025, 6, 13), today=date(2025, 6, 13))


def test_json_shape(story_assistant):
    assistant = story_assistant(EXTENDED, ENDED)
    result = assistant.changes(STILL_ON, since=date(2025, 6, 7), today=date(2025, 6, 13))
    assert isinstance(result, Changes)

    data = result.to_dict()

    assert set(data) == {
        "question",
        "since",
        "today",
        "before",
        "after",
        "changed",
        "difference",
        "evidence",
        "newest",
    }
    assert data["since"] == "2025-06-07" and data["newest"] == "2025-06-12"
    assert data["before"]["citations"][0]["published"] == "2025-06-06"
    assert set(data["evidence"][0]) == {
        "doc_id",
        "title",
        "published",
        "quote",
        "start",
        "end",
        "value",
    }
