"""The freshness note appears exactly where an answer rests only on old articles while newer
ones about its subject exist (tests/data/stories, real embedder and Chroma)."""

from __future__ import annotations

from datetime import date

from fakes import QuotingChatModel

OFFER = "What pay rise did Castlemere Terminals offer?"
OFFERED = "offer of a 4% rise"  # 2 June; the strike story goes on until 12 June


def ask(story_assistant, question: str, phrase: str, today: date):
    ans = story_assistant(llm=QuotingChatModel(phrases=[phrase])).ask(question, today=today)
    assert not ans.abstained, ans.abstain_reason
    return ans


def test_an_answer_from_an_old_report_names_the_newer_ones(story_assistant):
    ans = ask(story_assistant, OFFER, OFFERED, date(2025, 6, 20))

    assert [c.published for c in ans.citations] == [date(2025, 6, 2)]
    note = ans.freshness
    assert note is not None and note.based_on == date(2025, 6, 2)
    assert note.newer and all(s.published and s.published >= date(2025, 6, 5) for s in note.newer)
    assert note.newer[0].published == date(2025, 6, 12)  # newest first
    assert note.text.startswith("Based on a report of 2 June 2025; newer articles: ")
    assert "Castlemere" in note.text
    data = ans.to_dict()["freshness_note"]
    assert data["based_on"] == "2025-06-02" and data["newer"][0]["published"] == "2025-06-12"


def test_no_note_while_the_report_is_recent(story_assistant):
    ans = ask(story_assistant, OFFER, OFFERED, date(2025, 6, 5))
    assert ans.freshness is None


def test_no_note_when_the_answer_rests_on_the_newest_report(story_assistant):
    ans = ask(
        story_assistant,
        "What pay rise did the Castlemere dockworkers accept?",
        "accept a 6% pay rise",
        date(2025, 6, 20),
    )
    assert ans.citations[0].published == date(2025, 6, 12)
    assert ans.freshness is None
    assert ans.to_dict()["freshness_note"] is None


def test_no_note_when_newer_articles_are_about_something_else(story_assistant):
    ans = ask(
        story_assistant, "How many vans is Norden recalling?", "recalling 8,000", date(2025, 6, 20)
    )
    assert ans.citations[0].published == date(2025, 4, 15)
    assert ans.freshness is None


def test_no_note_for_a_question_about_a_past_date(story_assistant):
    ans = ask(
        story_assistant,
        "What pay rise did Castlemere Terminals offer on 2 June?",
        OFFERED,
        date(2025, 6, 20),
    )
    assert ans.freshness is None


def test_no_note_on_an_abstention(story_assistant):
    assistant = story_assistant(llm=QuotingChatModel(phrases=["no such phrase"]))
    ans = assistant.ask(OFFER, today=date(2025, 6, 20))
    assert ans.abstained and ans.freshness is None and ans.disagreements == []
