"""Issue 7, item 5: many users at once through the Python API.

Twenty questions from twenty threads against one ``Assistant`` whose chat model is the real
``LlamaCppChat`` over a fake llama.cpp context (tokens streamed with a delay; two requests
inside the context at once is an error, as it would corrupt a real one). Meanwhile other
threads list, search and ingest. Every answer must come back complete and cited, and the
context must never be shared. A control run without the lock proves the load overlaps.
The real model gets three concurrent questions (``integration``; the run is shared with the
prompt-injection tests, see ``relkit.real_hostile_run``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from relkit import (
    STRESS,
    FakeLlama,
    assert_store_consistent,
    fake_llama_chat,
    in_threads,
    quote_best_sentence,
    real_hostile_run,
)

from rag.assistant import Assistant
from rag.config import Settings
from rag.types import Answer, Token

DATA = Path(__file__).parent.parent / "data" / "articles"
TODAY = date(2024, 12, 1)
ANSWERS = {  # question -> what its answer must say (the fake model answers each question)
    "When did the Harbour Bridge open?": "Tuesday",
    "How long is the Harbour Bridge?": "1,240 metres",
    "How much did the Harbour Bridge cost?": "410 million euros",
    "Who cut the ribbon at the Harbour Bridge?": "Ada Lindqvist",
    "What wind speed can the Harbour Bridge withstand?": "200 kilometres per hour",
    "How much time will commuters save with the new bridge?": "25 minutes",
    "Why did the Harbour Bridge cost more than planned?": "steel prices rose",
    "Which bakery won the national bread award?": "Okafor family bakery",
    "How many bakeries did the Okafor bakery beat?": "312",
    "When did Grace Okafor's grandmother begin her sourdough starter?": "1987",
    "How many loaves does the Mill Street bakery sell on a Saturday?": "900 loaves",
    "What will the bakery's prize money pay for?": "second stone oven",
    "What time does the Mill Street bakery open?": "opens at 5",
    "Who won the county cup final?": "Riverside Rovers",
    "What was the result of the cup final against Northgate United?": "3-1",
    "Who scored twice in the cup final?": "Tomas Brandt",
    "How many supporters watched the cup final at Valley Stadium?": "18,000",
    "Who saved a penalty in the cup final?": "Leo Marsh",
    "When did the Riverside Rovers last win a trophy?": "22 years",
    "Where was the county cup final played?": "Valley Stadium",
}
QUESTIONS = list(ANSWERS)
USERS = 60 if STRESS else len(QUESTIONS)


def _markers_removed(text: str) -> str:
    return " ".join(re.sub(r"\s*\[\d+\]", "", text).split())


def _streamed(assistant: Assistant, question: str) -> tuple[str, Answer]:
    tokens, final = [], None
    for event in assistant.stream(question, today=TODAY):
        if isinstance(event, Token):
            tokens.append(event.text)
        else:
            final = event
    assert final is not None
    return "".join(tokens), final


@pytest.fixture
def backend() -> FakeLlama:
    return FakeLlama(reply=quote_best_sentence, token_delay=0.003)


@pytest.fixture
def assistant(settings: Settings, embedder, backend: FakeLlama) -> Assistant:
    a = Assistant(settings, llm=fake_llama_chat(backend), embedder=embedder)
    assert not a.ingest([DATA]).failed
    return a


def test_twenty_users_at_once_get_complete_cited_answers(assistant, backend, tmp_path):
    late = tmp_path / "late.md"
    late.write_text("# Ferry service resumes\n2024-07-01\n\nThe island ferry resumed on Monday.\n")
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(USERS)]
    jobs: list[Callable[[], Any]] = []
    for i, q in enumerate(questions):
        if i % 2:
            jobs.append(lambda q=q: _streamed(assistant, q))
        else:
            jobs.append(lambda q=q: (None, assistant.ask(q, today=TODAY)))
    jobs.append(lambda: [assistant.list_articles() for _ in range(20)])
    jobs.append(lambda: [assistant.retrieve(q, today=TODAY) for q in QUESTIONS])
    jobs.append(lambda: assistant.ingest([late]))

    results, errors = in_threads(jobs, timeout=300)

    assert errors == [], errors
    assert backend.violations == 0 and backend.max_busy == 1
    for q, (tokens, ans) in zip(questions, results[: len(questions)], strict=True):
        assert isinstance(ans, Answer) and ans.question == q
        assert not ans.abstained, (q, ans.abstain_reason, ans.unsupported)
        assert ans.citations, (q, ans.text)
        assert ANSWERS[q] in ans.text, (q, ans.text)  # the answer to this user's question
        # (with more users than questions, one question may have met two states of the store)
        replies = [r for prompt, r in backend.replies.items() if f"Question: {q}\n" in prompt]
        if tokens is not None:
            assert tokens in replies  # every streamed token, in order, and nothing else
        assert _markers_removed(ans.text) in {_markers_removed(r) for r in replies}, q  # complete
        for c in ans.citations:
            stored = assistant.store.article(c.doc_id)
            assert stored is not None and stored.text[c.start : c.end] == c.quote
    assert results[-1].added  # the article ingested meanwhile is in
    assert len(assistant.list_articles()) == 4
    assert_store_consistent(assistant.store)


def test_without_the_lock_the_fake_context_is_corrupted(assistant, backend):
    """Control: the load above really overlaps, and the fake backend notices."""
    assistant.llm._lock = contextlib.nullcontext()  # type: ignore[attr-defined]
    backend.token_delay = 0.05  # long enough that six answers must overlap
    asks = [lambda q=q: assistant.ask(q, today=TODAY) for q in QUESTIONS[:6]]
    _, errors = in_threads(asks, timeout=300)
    assert backend.violations > 0 and errors


@pytest.mark.integration
def test_real_llama_serialises_concurrent_questions(embedder):
    """Three questions at once to the real model (shared with the prompt-injection tests)."""
    run = real_hostile_run(embedder)

    assert run["errors"] == [], run["errors"]
    assert run["calls"] == len(run["questions"]) and run["overlaps"] == 0
    for q, ans in zip(run["questions"], run["answers"], strict=True):
        assert isinstance(ans, Answer) and ans.question == q and ans.text.strip()
        assert ans.abstained or ans.citations, ans
        for c in ans.citations:
            stored = run["stored"][c.doc_id]
            assert stored.text[c.start : c.end] == c.quote
    answered = [a for a in run["answers"] if not a.abstained]
    assert len(answered) >= len(run["answers"]) - 1, [(a.question, a.text) for a in run["answers"]]
