"""Issue 8, item 10: a writer paused while it holds ``write.lock`` goes on when resumed.

The probe paused an ingest for about a minute (SIGSTOP) and, resumed, it died with a
chromadb "pool timed out while waiting for an open connection" traceback: Chroma's SQLite
connection pool had given up waiting while the process was stopped. Every Chroma call of a
store is idempotent (upserts of deterministic ids, deletes, reads), so such a call is tried
again; if the pool keeps timing out, the command ends with one line (``StoreBusyError``),
and running it again repairs whatever was half written (the crash journal).

The pause itself could not be reproduced on demand (it needs the stop to land while Chroma
waits for a connection), so Chroma's error is raised, with its own message, by a wrapper
around the real collection.
"""

from __future__ import annotations

from typing import Any

import pytest
from chromadb.errors import InternalError
from relkit import (
    KeywordEmbedder,
    assert_one_line_error,
    assert_store_consistent,
    patch_cli,
    run_cli,
    write_corpus,
)

import rag.store.vectors
from rag.assistant import Assistant
from rag.config import Settings, StoreSettings
from rag.errors import StoreBusyError
from rag.store.local import LocalStore

POOL_TIMEOUT = "error returned from database: pool timed out while waiting for an open connection"


class Stalling:
    """A Chroma collection whose ``methods`` time out like a resumed process, ``times`` times."""

    def __init__(self, collection: Any, times: int, methods: tuple[str, ...]) -> None:
        self._collection = collection
        self.left = times
        self.methods = methods
        self.stalls = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._collection, name)
        if name not in self.methods:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.left:
                self.left -= 1
                self.stalls += 1
                raise InternalError(POOL_TIMEOUT)
            return real(*args, **kwargs)

        return call


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch):
    monkeypatch.setattr(rag.store.vectors, "_RETRY_WAIT_S", 0.01)


def _assistant(tmp_path) -> Assistant:
    settings = Settings(store=StoreSettings(path=tmp_path / "store"))
    return Assistant(settings, embedder=KeywordEmbedder())  # type: ignore[arg-type]


def _stall(a: Assistant, times: int, *methods: str) -> Stalling:
    chunks = a.store._chunks  # type: ignore[attr-defined]
    stalling = Stalling(chunks.collection, times, methods)
    chunks.collection = stalling
    return stalling


def test_a_resumed_writer_retries_and_finishes(tmp_path):
    a = _assistant(tmp_path)
    corpus = tmp_path / "c.jsonl"
    records = write_corpus(corpus, 40)
    stalling = _stall(a, 2, "upsert", "delete", "query", "count")
    report = a.ingest([corpus])
    assert stalling.stalls == 2 and len(report.added) == len(records)
    assert_store_consistent(a.store)
    _stall(a, 2, "query", "count")
    assert a.retrieve("kw3x code word", k=1)[0].doc_id == "gen-00003"
    _stall(a, 2, "delete")
    assert a.delete("gen-00003")
    assert_store_consistent(a.store)


def test_a_pool_that_keeps_timing_out_is_one_line_then_a_rerun_repairs(tmp_path, monkeypatch):
    corpus = tmp_path / "c.jsonl"
    write_corpus(corpus, 40)
    store = tmp_path / "store"
    patch_cli(monkeypatch, KeywordEmbedder())
    original = LocalStore._open_chroma

    def stalled(self: LocalStore) -> Any:
        chunks = original(self)
        chunks.collection = Stalling(chunks.collection, 10**6, ("upsert",))
        return chunks

    monkeypatch.setattr(LocalStore, "_open_chroma", stalled)
    result = run_cli("ingest", str(corpus), "--store", str(store))  # a traceback fails here
    assert_one_line_error(result, "did not answer in time", "run the command again")

    monkeypatch.setattr(LocalStore, "_open_chroma", original)
    result = run_cli("ingest", str(corpus), "--store", str(store))
    assert result.exit_code == 0, result.output
    again = LocalStore(store)
    assert_store_consistent(again)
    assert len(again.list_articles()) == 40
    again.close()


def test_other_chroma_errors_are_not_retried(tmp_path):
    a = _assistant(tmp_path)
    chunks = a.store._chunks  # type: ignore[attr-defined]

    class Broken:
        calls = 0

        def count(self) -> int:
            Broken.calls += 1
            raise InternalError("something else")

    chunks.collection = Broken()
    with pytest.raises(InternalError):
        a.store.vector_count()
    assert Broken.calls == 1
    assert not isinstance(InternalError("x"), StoreBusyError)
