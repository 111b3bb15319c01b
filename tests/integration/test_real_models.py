"""The real packaged embedder and the real default LLM (Qwen2.5 1.5B GGUF) over seeds/.

Slow (the LLM loads once per module). Deselect with ``-m "not integration"``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rag import Assistant
from rag.config import DEFAULT_CONFIG, Settings, StoreSettings

pytestmark = pytest.mark.integration

SEEDS = Path(__file__).parent.parent.parent / "seeds"
TODAY = date(2025, 7, 10)  # a few days after the seed article, whatever the machine's clock says
SUPPORT = "defending its cities from intensifying Russian air strikes"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory) -> Assistant:
    store = StoreSettings(path=tmp_path_factory.mktemp("store"))
    settings = Settings.from_toml(DEFAULT_CONFIG, store=store)
    assistant = Assistant(settings)
    report = assistant.ingest([SEEDS])
    assert len(report.added) == 1 and not report.failed
    return assistant


def test_answer_cites_the_seed_passage(assistant):
    ans = assistant.ask("Why did Ukraine want Patriot systems?", today=TODAY)

    assert not ans.abstained, ans.abstain_reason
    assert ans.citations, ans.text
    assert all(c.title.startswith("Zelenskiy says") for c in ans.citations)
    assert any(SUPPORT in c.quote for c in ans.citations), [c.quote for c in ans.citations]
    stored = assistant.store.article(ans.citations[0].doc_id)
    assert stored is not None
    for c in ans.citations:
        assert stored.text[c.start : c.end] == c.quote


def test_question_the_seed_does_not_cover_is_refused(assistant):
    ans = assistant.ask("Who won the 2022 FIFA World Cup final?", today=TODAY)
    assert ans.abstained, ans.text
    assert ans.citations == []
    assert "ttft_s" not in ans.timings  # refused by the relevance gate: the model never ran


def test_question_about_the_seed_it_does_not_answer_is_refused_after_the_model(assistant):
    """Its words and names are the seed's, so it passes the gate; the price is nowhere in it.

    The model must decline, or the figure it makes up must fail verification.
    """
    ans = assistant.ask("How much does one Patriot missile cost Ukraine?", today=TODAY)
    assert "ttft_s" in ans.timings, ans.abstain_reason  # the model ran
    assert ans.abstained, ans.text
    assert ans.citations == []


def test_follow_up_reuses_the_saved_system_prompt_state(assistant):
    """A condense call in between must not cost the answer prompt its cached system prompt."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from rag.answer import CONDENSE_SYSTEM, SYSTEM_PROMPT
    from rag.llm import LlamaCppChat

    model = assistant.llm
    assert isinstance(model, LlamaCppChat)
    assistant.ask("What did Zelenskiy and Trump discuss?", today=TODAY)
    model.invoke([SystemMessage(CONDENSE_SYSTEM), HumanMessage("Last question: and Patriots?")])
    ans = assistant.ask("Why did Ukraine want Patriot systems?", today=TODAY)

    assert model.last_prompt["reused_tokens"] >= model.get_num_tokens(SYSTEM_PROMPT)
    # The restored state still answers from the passage.
    assert not ans.abstained, ans.abstain_reason
    assert any(SUPPORT in c.quote for c in ans.citations), [c.quote for c in ans.citations]
