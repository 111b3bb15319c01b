"""Issue 7, item 2: clean restarts below Chroma's 1,000-item HNSW flush lose nothing.

chroma-core/chroma#6975: below ``hnsw:sync_threshold`` the HNSW index is never written to
disk; the vectors live only in Chroma's write-ahead log, and were lost when a later run
advanced the log past them. So: process 1 ingests a few hundred chunks and exits normally;
process 2 (fresh) checks everything is there and searchable; process 3 writes a little more
(and deletes an article) and exits; process 4 (this one) checks everything again.
"""

from __future__ import annotations

import json
import subprocess
import sys

from relkit import (
    CHILD,
    STRESS,
    KeywordEmbedder,
    assert_store_consistent,
    expected_chunk_ids,
    self_retrieval,
    write_corpus,
)

from rag.store import LocalStore

ROUNDS = 5 if STRESS else 1  # extra write-and-restart rounds, each below the threshold


def _run(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(CHILD), *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_clean_restarts_below_the_flush_threshold_lose_nothing(tmp_path):
    store = tmp_path / "store"
    first = tmp_path / "first.jsonl"
    write_corpus(first, 40, seed=1)
    embedder = KeywordEmbedder()
    expected = expected_chunk_ids([first], embedder)
    assert 50 < len(expected) < 1000

    report = _run("ingest", str(store), str(first))
    assert len(report["added"]) == 40 and report["chunks"] == len(expected)

    seen = _run("verify", str(store))  # a fresh process
    assert set(seen["chunk_ids"]) == expected
    assert seen["self_retrieval"] >= 0.99 and seen["keyword_misses"] == [], seen

    docs = {f"gen-{i:05d}" for i in range(40)}
    paths = [first]
    for r in range(ROUNDS):
        more = tmp_path / f"more{r}.jsonl"
        write_corpus(more, 3, seed=10 + r, start=100 + 3 * r)
        gone = f"gen-{r:05d}"
        report = _run("ingest", str(store), str(more), "--delete", gone)
        assert len(report["added"]) == 3 and report["deleted"] == [gone]
        docs = (docs | {f"gen-{100 + 3 * r + j:05d}" for j in range(3)}) - {gone}
        paths.append(more)

    expected = {c for c in expected_chunk_ids(paths, embedder) if c.split(":")[0] in docs}
    reopened = LocalStore(store)
    try:
        assert reopened.chunk_ids() == reopened.vector_ids() == expected
        assert_store_consistent(reopened)
        assert {a.doc_id for a in reopened.list_articles()} == docs
        score, misses = self_retrieval(reopened, embedder)
        assert score >= 0.99, misses
        assert reopened.bm25_search("kw0x", 5) == []  # the deleted article is gone everywhere
    finally:
        reopened.close()
