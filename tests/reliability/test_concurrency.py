"""Issue 7, item 5: many users at once through the Python API.

Twenty questions from twenty threads against one ``Assistant`` whose chat model is the real
``LlamaCppChat`` over a fake llama.cpp context (tokens streamed with a delay; two requests
inside the context at once is an error, as it would corrupt a real one). Meanwhile other
threads list, search and ingest. Every answer must come back complete and cited, and the
context must never be shared. A control run without the lock proves the load overlaps.
The real model gets three concurrent questions (``integration``).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from relkit import STRESS, FakeLlama, assert_store_consistent, fake_llama_chat, real_llm

from rag.assistant import Assistant
from rag.config import DEFAULT_CONFIG, Settings, StoreSettings
from rag.types import Answer, Token

DATA = Path(__file__).parent.parent / "data" / "articles"
SEEDS = Path(__file__).parent.parent.parent / "seeds"
TODAY = date(2024, 12, 1)
QUESTIONS = [
    "When did the Harbour Bridge open?",
    "How long is the Harbour Bridge?",
    "How much did the Harbour Bridge cost?",
    "Who cut the ribbon at the Harbour Bridge?",
    "What wind speed can the Harbour Bridge withstand?",
    "How much time will commuters save with the new bridge?",
    "Why did the Harbour Bridge cost more than planned?",
    "Which bakery won the national bread award?",
    "How many bakeries did the Okafor bakery beat?",
    "When did Grace Okafor's grandmother begin her sourdough starter?",
    "How many loaves does the Mill Street bakery sell on a Saturday?",
    "What will the bakery's prize money pay for?",
    "What time does the Mill Street bakery open?",
    "Who won the county cup final?",
    "What was the score of the cup final against Northgate?",
    "Who scored twice in the cup final?",
    "How many supporters watched the cup final at Valley Stadium?",
    "Who saved a penalty in the cup final?",
    "When did the Riverside Rovers last win a trophy?",
    "Where was the county cup final played?",
]
USERS = 60 if STRESS else len(QUESTIONS)


def _markers_removed(text: str) -> str:
    return " ".join(re.sub(r"\s*\[\d+\]", "", text).split())


def _in_threads(jobs: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run the jobs at once (released together by a barrier); results and errors."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except BaseException as ex:  # noqa: BLE001 - every failure is reported
            errors.append(ex)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors


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
    return FakeLlama(token_delay=0.003)


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

    results, errors = _in_threads(jobs)

    assert errors == [], errors
    assert backend.violations == 0 and backend.max_busy == 1
    for q, (tokens, ans) in zip(questions, results[: len(questions)], strict=True):
        assert isinstance(ans, Answer) and ans.question == q
        assert not ans.abstained, (q, ans.abstain_reason, ans.unsupported)
        assert ans.citations, (q, ans.text)
        (reply,) = [r for prompt, r in backend.replies.items() if f"Question: {q}\n" in prompt]
        if tokens is not None:
            assert tokens == reply  # every streamed token, in order, and nothing else
        assert _markers_removed(ans.text) == _markers_removed(reply), q  # complete
        for c in ans.citations:
            stored = assistant.store.article(c.doc_id)
            assert stored is not None and stored.text[c.start : c.end] == c.quote
    assert results[-1].added  # the article ingested meanwhile is in
    assert len(assistant.list_articles()) == 4
    assert_store_consistent(assistant.store)


def test_without_the_lock_the_fake_context_is_corrupted(assistant, backend):
    """Control: the load above really overlaps, and the fake backend notices."""
    assistant.llm._lock = contextlib.nullcontext()  # type: ignore[attr-defined]
    _, errors = _in_threads([lambda q=q: assistant.ask(q, today=TODAY) for q in QUESTIONS[:6]])
    assert backend.violations > 0 and errors


@pytest.mark.integration
def test_real_llama_serialises_concurrent_questions(tmp_path, monkeypatch):
    model = real_llm().model_copy(update={"max_tokens": 48})
    llama = model.llama
    busy, overlaps, calls = [0], [0], [0]
    guard = threading.Lock()
    original = llama.create_chat_completion

    @contextlib.contextmanager
    def using() -> Any:
        with guard:
            busy[0] += 1
            calls[0] += 1
            overlaps[0] += busy[0] > 1
        try:
            yield
        finally:
            with guard:
                busy[0] -= 1

    def traced(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("stream"):
            with using():
                return original(*args, **kwargs)

        def stream() -> Any:
            with using():
                yield from original(*args, **kwargs)

        return stream()

    monkeypatch.setattr(llama, "create_chat_completion", traced)
    settings = Settings.from_toml(
        DEFAULT_CONFIG, store=StoreSettings(path=tmp_path / "store"), answer={"context_tokens": 250}
    )
    assistant = Assistant(settings, llm=model)
    assert assistant.ingest([SEEDS]).added
    today = date(2025, 7, 10)
    questions = [
        "Why did Ukraine want Patriot systems?",
        "How long did the call between Trump and Zelenskiy last?",
        "Which German leader did Trump speak with on Thursday?",
    ]

    started = time.monotonic()
    results, errors = _in_threads([lambda q=q: assistant.ask(q, today=today) for q in questions])

    assert errors == [], errors
    assert calls[0] == 3 and overlaps[0] == 0
    for q, ans in zip(questions, results, strict=True):
        assert ans.question == q and ans.text.strip()
        assert ans.abstained or ans.citations, ans
        for c in ans.citations:
            stored = assistant.store.article(c.doc_id)
            assert stored is not None and stored.text[c.start : c.end] == c.quote
    assert not results[0].abstained, results[0]
    assert time.monotonic() - started < 600
