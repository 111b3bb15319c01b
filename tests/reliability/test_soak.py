"""Issue 7, item 11: many questions in a row; memory, file handles and threads level off.

Default: 200 questions (some follow-ups with a history, some streamed) through the real
``LlamaCppChat`` over a fake llama.cpp context, hashed-keyword vectors, a real store. After
a warm-up half, RSS stays within +-10% of its median and grows by no more than a bound, and
open file descriptors and threads do not grow. ``NEWSQA_STRESS=1``: 2,000 questions with the
real embedding model, then 120 with the real LLM (``integration``).
"""

from __future__ import annotations

import os
import statistics
import threading
from datetime import date
from typing import Any

import pytest
from relkit import (
    STRESS,
    FakeLlama,
    KeywordEmbedder,
    assert_store_consistent,
    fake_llama_chat,
    real_llm,
    rss_bytes,
    write_corpus,
)

from rag.assistant import Assistant
from rag.config import DEFAULT_CONFIG, Settings, StoreSettings
from rag.types import Answer

TODAY = date(2025, 1, 1)
ARTICLES = 60


def _question(i: int) -> tuple[str, list[tuple[str, str]] | None]:
    n = (i * 7) % ARTICLES
    if i % 10 == 9:  # a follow-up: condensed with the history first
        return "And what else does it mention?", [
            (f"What does generated report {n} about item kw{n}x mention?", "It mentions a code.")
        ]
    return f"What does generated report {n} about item kw{n}x mention (question {i})?", None


def _soak(assistant: Assistant, n: int) -> dict[str, Any]:
    rss, fds, threads, abstained = [], [], [], 0
    for i in range(n):
        question, history = _question(i)
        if i % 3 == 0:
            events = list(assistant.stream(question, history=history, today=TODAY))
            ans = events[-1]
        else:
            ans = assistant.ask(question, history=history, today=TODAY)
        assert isinstance(ans, Answer) and ans.text
        abstained += ans.abstained
        rss.append(rss_bytes())
        fds.append(len(os.listdir("/proc/self/fd")))
        threads.append(threading.active_count())
    return {"rss": rss, "fds": fds, "threads": threads, "abstained": abstained}


def _assert_levels_off(run: dict[str, Any], max_growth_mb: float) -> None:
    half = len(run["rss"]) // 2
    tail = run["rss"][half:]
    median = statistics.median(tail)
    mb = [round(x / 2**20, 1) for x in tail[:: max(1, len(tail) // 10)]]
    assert all(0.9 * median <= x <= 1.1 * median for x in tail), mb
    assert (max(tail[-10:]) - min(tail[:10])) / 2**20 <= max_growth_mb, mb
    assert max(run["fds"][half:]) <= run["fds"][half] + 3, run["fds"][half:][-5:]
    assert max(run["threads"][half:]) <= run["threads"][half] + 2
    assert run["abstained"] <= len(run["rss"]) // 10


def _assistant(tmp_path, embedder, llm) -> Assistant:
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, ARTICLES, seed=3)
    settings = Settings(store=StoreSettings(path=tmp_path / "store"))
    assistant = Assistant(settings, llm=llm, embedder=embedder)
    assert not assistant.ingest([corpus]).failed
    return assistant


def test_soak_with_a_fake_model_levels_off(tmp_path, request):
    embedder = request.getfixturevalue("embedder") if STRESS else KeywordEmbedder()
    backend = FakeLlama()
    assistant = _assistant(tmp_path, embedder, fake_llama_chat(backend))

    run = _soak(assistant, 2000 if STRESS else 200)

    _assert_levels_off(run, max_growth_mb=40)
    assert backend.violations == 0
    assert_store_consistent(assistant.store)


@pytest.mark.integration
@pytest.mark.skipif(not STRESS, reason="the real-model soak runs under `make stress`")
def test_soak_with_the_real_model_levels_off(tmp_path, embedder):
    settings = Settings.from_toml(DEFAULT_CONFIG, store=StoreSettings(path=tmp_path / "store"))
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, ARTICLES, seed=3)
    assistant = Assistant(settings, llm=real_llm(), embedder=embedder)
    assert not assistant.ingest([corpus]).failed

    run = _soak(assistant, 120)

    _assert_levels_off(run, max_growth_mb=80)
