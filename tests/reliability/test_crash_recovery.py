"""Issue 7, item 1: SIGKILL during ingest loses nothing and duplicates nothing.

Modelled on Chroma's ``test/property/test_persist.py`` and ``test_restart_persist.py``: a
child process ingests generated articles into a real store (Chroma + SQLite) and is killed
with SIGKILL at several points: early, at fractions of the expected chunk count (polled from
the store's SQLite side), and inside a write between Chroma and the SQLite commit. After the
kills, the same ingest is re-run to completion in a fresh process, and this (fresh) process
checks the store: exactly the expected chunks, no duplicates, SQLite/FTS5 == Chroma, and
every chunk found by dense search with its own vector at rank 1.

Default: 300 articles (~1,100 chunks, past Chroma's 1,000-item HNSW flush), hashed-keyword
vectors. ``NEWSQA_STRESS=1``: 1,500 articles, the real embedding model, nine kills.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from relkit import (
    CHILD,
    STRESS,
    KeywordEmbedder,
    assert_store_consistent,
    expected_chunk_ids,
    self_retrieval,
    sqlite_count,
    write_corpus,
)

from rag.assistant import Assistant
from rag.config import Settings, StoreSettings
from rag.store import LocalStore

N_ARTICLES = 1500 if STRESS else 300
BATCH = 64 if STRESS else 48  # chunks per write: many writes, many places to die
CHILD_TIMEOUT = 900 if STRESS else 180

# How each run dies: ("early", seconds after start) | ("fraction", share of expected chunks
# committed) | ("mid", the n-th write of the run, between Chroma and the SQLite commit).
KILLS: list[tuple[str, float]] = (
    [("early", 0.2), ("fraction", 0.1), ("mid", 1), ("fraction", 0.25), ("fraction", 0.4),
     ("mid", 3), ("fraction", 0.55), ("fraction", 0.7), ("fraction", 0.9)]
    if STRESS else
    [("early", 0.2), ("fraction", 0.2), ("mid", 2), ("fraction", 0.6)]
)  # fmt: skip


def _child(store: Path, corpus: Path, progress: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, str(CHILD), "ingest", str(store), str(corpus),
           "--progress", str(progress), "--batch", str(BATCH), *extra]  # fmt: skip
    if STRESS:
        cmd.append("--real")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(progress: Path) -> list[str]:
    return progress.read_text().split() if progress.exists() else []


def _run_and_kill(
    store: Path, corpus: Path, progress: Path, when: Callable[[list[str]], bool], *extra: str
) -> int:
    """Start an ingest, SIGKILL it once ``when(progress lines)`` holds; committed chunks."""
    progress.unlink(missing_ok=True)
    proc = _child(store, corpus, progress, *extra)
    deadline = time.monotonic() + CHILD_TIMEOUT
    try:
        while not when(_lines(progress)):
            if proc.poll() is not None:
                _, err = proc.communicate()
                pytest.fail(f"the child ended (rc={proc.returncode}) before the kill:\n{err}")
            if time.monotonic() > deadline:
                pytest.fail("the kill condition never came")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return sqlite_count(store)


def _kill_condition(kind: str, value: float, store: Path, expected: int) -> Callable:
    if kind == "early":
        started: list[float] = []

        def early(lines: list[str]) -> bool:
            if "start" in lines and not started:
                started.append(time.monotonic())
            return bool(started) and time.monotonic() - started[0] >= value

        return early
    if kind == "mid":
        return lambda lines: "mid" in lines
    return lambda lines: "start" in lines and sqlite_count(store) >= value * expected


def test_sigkill_during_ingest_then_rerun_converges(tmp_path, request):
    corpus, store_path, progress = tmp_path / "corpus.jsonl", tmp_path / "store", tmp_path / "p"
    write_corpus(corpus, N_ARTICLES)
    embedder = request.getfixturevalue("embedder") if STRESS else KeywordEmbedder()
    expected = expected_chunk_ids([corpus], embedder)
    assert len(expected) > 1000  # past Chroma's HNSW sync threshold

    landed = []
    for kind, value in KILLS:
        when = _kill_condition(kind, value, store_path, len(expected))
        extra = ("--hang-at", str(int(value))) if kind == "mid" else ()
        landed.append((kind, value, _run_and_kill(store_path, corpus, progress, when, *extra)))
    assert all(count < len(expected) for *_, count in landed), landed  # every kill was mid-way

    # The same ingest, re-run in a fresh process, completes...
    proc = _child(store_path, corpus, progress)
    out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["failed"] == []
    assert len(report["added"]) + len(report["updated"]) + len(report["unchanged"]) == N_ARTICLES
    assert report["unchanged"], "the re-run should skip what the killed runs completed"

    # ... and a fresh process (this one) finds exactly one copy of every chunk.
    store = LocalStore(store_path)
    try:
        assert store.chunk_ids() == store.vector_ids() == expected
        assert_store_consistent(store)
        assert len(store.list_articles()) == N_ARTICLES
        score, misses = self_retrieval(store, embedder)
        assert score >= 0.99, (score, misses[:10], landed)
        for i in range(0, N_ARTICLES, 7):  # the keyword index agrees
            ids = [cid for cid, _ in store.bm25_search(f"kw{i}x", 3)]
            assert ids and ids[0].startswith(f"gen-{i:05d}:"), (i, ids)

        # Re-running once more changes nothing.
        settings = Settings(store=StoreSettings(path=store_path))
        again = Assistant(settings, embedder=embedder, store=store).ingest([corpus])  # type: ignore[arg-type]
        assert len(again.unchanged) == N_ARTICLES and again.chunks == 0
        assert store.chunk_ids() == store.vector_ids() == expected
    finally:
        store.close()


class _FailingEmbedder(KeywordEmbedder):
    """Fails on its n-th batch, like an out-of-memory error in the middle of an ingest."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def encode(self, texts, batch_size=None):  # type: ignore[no-untyped-def]
        if self.calls + 1 == self.fail_at:
            self.calls += 1
            raise MemoryError("simulated failure while embedding")
        return super().encode(texts, batch_size)


def test_exception_in_the_middle_of_an_ingest_leaves_a_consistent_store(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 40)
    settings = Settings(store=StoreSettings(path=tmp_path / "store"), ingest={"batch_chunks": 32})
    store = LocalStore(settings.store_path)
    failing = Assistant(settings, embedder=_FailingEmbedder(fail_at=3), store=store)  # type: ignore[arg-type]

    with pytest.raises(MemoryError):
        failing.ingest([corpus])

    committed = store.chunk_ids()
    assert 0 < len(committed) < len(expected_chunk_ids([corpus], KeywordEmbedder()))
    assert_store_consistent(store)
    report = Assistant(settings, embedder=KeywordEmbedder(), store=store).ingest([corpus])  # type: ignore[arg-type]
    assert report.unchanged and not report.failed
    assert (
        store.chunk_ids() == store.vector_ids() == expected_chunk_ids([corpus], KeywordEmbedder())
    )
    assert_store_consistent(store)
    store.close()
