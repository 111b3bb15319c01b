"""What changed since a date, with the real packaged models, on the dock-strike story.

Slow (the LLM loads once per module). Deselect with ``-m "not integration"``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rag import Assistant
from rag.config import DEFAULT_CONFIG, Settings, StoreSettings

pytestmark = pytest.mark.integration

STORIES = Path(__file__).parent.parent / "data" / "stories"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory) -> Assistant:
    store = StoreSettings(path=tmp_path_factory.mktemp("stories"))
    assistant = Assistant(Settings.from_toml(DEFAULT_CONFIG, store=store))
    report = assistant.ingest([STORIES])
    assert not report.failed
    return assistant


def assert_exact(assistant: Assistant, doc_id: str, quote: str, start: int, end: int) -> None:
    stored = assistant.store.article(doc_id)
    assert stored is not None and stored.text[start:end] == quote


def test_changes_on_the_strike_story(assistant):
    result = assistant.changes(
        "When will the Castlemere dock strike end?", since=date(2025, 6, 7), today=date(2025, 6, 13)
    )

    # As of 7 June the strike had been extended to 13 June; it ended on 11 June.
    assert not result.before.abstained, result.before.abstain_reason
    assert not result.after.abstained, result.after.abstain_reason
    assert {c.published for c in result.before.citations} == {date(2025, 6, 6)}
    assert date(2025, 6, 12) in {c.published for c in result.after.citations}
    assert result.changed and result.newest == date(2025, 6, 12)
    assert "12 June 2025" in result.difference
    for answer in (result.before, result.after):
        for c in answer.citations:
            assert_exact(assistant, c.doc_id, c.quote, c.start, c.end)
    for r in result.evidence:
        assert_exact(assistant, r.doc_id, r.quote, r.start, r.end)


def test_the_newest_toll_is_the_answer_and_the_older_ones_are_shown(assistant):
    ans = assistant.ask(
        "How many people have died in the Varnholt mill fire?", today=date(2025, 3, 15)
    )

    assert not ans.abstained, ans.abstain_reason
    assert "17" in ans.text
    assert {c.published for c in ans.citations} == {date(2025, 3, 14)}
    assert {d.older.value for d in ans.disagreements} == {"12", "15"}
    assert all(d.used == "newer" for d in ans.disagreements)
