"""Issue 7, item 4: re-ingest, update and delete keep Chroma, SQLite and FTS5 in step.

Same article twice: nothing is embedded or written. Edited article: its old chunks are gone
from Chroma and from the keyword index, the new ones are there. Deleted article: gone from
both, and it comes back identical when ingested again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from relkit import assert_store_consistent

from rag.assistant import Assistant
from rag.config import Settings

DATA = Path(__file__).parent.parent / "data" / "articles"
FILLER = (
    "The committee met again on {day} to review the timetable, the budget and the list of "
    "contractors, and it agreed to publish the minutes of the meeting within a week. "
)


class CountingEmbedder:
    """Delegates to the real embedder and counts the texts it embeds."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.texts = inner, 0

    @property
    def tokenizer(self) -> Any:
        return self.inner.tokenizer

    def encode(self, texts: Any, batch_size: int | None = None) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.encode(texts)


def _story(path: Path, title: str, special: str, paragraphs: int) -> Path:
    body = "".join(FILLER.format(day=f"day {i}") for i in range(paragraphs * 6))
    path.write_text(f"# {title}\n2024-04-01\n\n{body}\n\nFinally the {special} was approved.\n")
    return path


def _snapshot(assistant: Assistant) -> dict[str, Any]:
    store = assistant.store
    with store._vectors() as vectors:  # type: ignore[attr-defined]
        chroma = vectors.collection.get(include=["embeddings", "documents", "metadatas"])
    rows = store._idx.db.execute("SELECT * FROM articles ORDER BY doc_id").fetchall()
    return {
        "chroma": sorted(
            (i, d, tuple(sorted(m.items())), tuple(np.round(e, 6)))
            for i, d, m, e in zip(
                chroma["ids"],
                chroma["documents"],
                chroma["metadatas"],
                chroma["embeddings"],
                strict=True,
            )
        ),  # fmt: skip
        "articles": [tuple(r) for r in rows],
        "chunks": [tuple(r) for r in store._idx.db.execute("SELECT * FROM chunks ORDER BY id")],
    }


@pytest.fixture
def assistant(settings: Settings, embedder) -> Assistant:
    return Assistant(settings, embedder=CountingEmbedder(embedder))  # type: ignore[arg-type]


def test_same_articles_twice_change_nothing(assistant, tmp_path):
    story = _story(tmp_path / "story.md", "Council approves the tramway", "zorblaxian tram", 3)
    first = assistant.ingest([DATA, story])
    assert len(first.added) == 4 and not first.failed
    before, embedded = _snapshot(assistant), assistant.embedder.texts

    again = assistant.ingest([DATA, story])

    assert again.added == again.updated == again.failed == [] and again.chunks == 0
    assert sorted(again.unchanged) == sorted(first.added)
    assert assistant.embedder.texts == embedded  # nothing was embedded again
    assert _snapshot(assistant) == before
    assert_store_consistent(assistant.store)


def test_edited_article_replaces_its_chunks_in_chroma_and_fts(assistant, tmp_path):
    path = tmp_path / "story.md"
    _story(path, "Council approves the tramway", "zorblaxian tram", 3)
    assistant.ingest([DATA, path])
    store = assistant.store
    (doc_id,) = [a.doc_id for a in store.list_articles() if a.source == str(path)]
    old_ids = {c for c in store.chunk_ids() if c.startswith(f"{doc_id}:")}
    assert len(old_ids) >= 3
    assert [c for c, _ in store.bm25_search("zorblaxian", 5)][0] in old_ids
    others = store.chunk_ids() - old_ids

    _story(path, "Council approves the tramway", "quillfeather bridge", 1)  # shorter, new word
    report = assistant.ingest([DATA, path])

    assert report.updated == [doc_id] and report.added == [] and len(report.unchanged) == 3
    new_ids = {c for c in store.chunk_ids() if c.startswith(f"{doc_id}:")}
    assert 0 < len(new_ids) < len(old_ids)
    assert store.chunk_ids() == store.vector_ids() == others | new_ids
    assert store.bm25_search("zorblaxian", 5) == []
    assert [c for c, _ in store.bm25_search("quillfeather", 5)] == [
        f"{doc_id}:{len(new_ids) - 1:05d}"
    ]
    with store._vectors() as vectors:
        docs = vectors.collection.get(where={"doc_id": doc_id}, include=["documents"])["documents"]
    assert docs and not any("zorblaxian" in d for d in docs)
    assert any("quillfeather" in d for d in docs)
    stored = store.article(doc_id)
    assert stored is not None and "zorblaxian" not in stored.text
    assert_store_consistent(store)

    # A new title alone is an update too, and reaches Chroma's metadata.
    _story(path, "Council approves the light rail", "quillfeather bridge", 1)
    assert assistant.ingest([path]).updated == [doc_id]
    with store._vectors() as vectors:
        metas = vectors.collection.get(where={"doc_id": doc_id}, include=["metadatas"])["metadatas"]
    assert metas and {m["title"] for m in metas} == {"Council approves the light rail"}
    assert_store_consistent(store)


def test_deleted_article_is_gone_from_chroma_and_fts_then_comes_back(assistant, tmp_path):
    story = _story(tmp_path / "story.md", "Council approves the tramway", "zorblaxian tram", 2)
    assistant.ingest([DATA, story])
    store = assistant.store
    (doc_id,) = [a.doc_id for a in store.list_articles() if a.source == str(story)]
    ids = {c for c in store.chunk_ids() if c.startswith(f"{doc_id}:")}
    question = assistant.embedder.encode(["zorblaxian tram approved by the committee"])[0]
    assert set(c for c, _ in store.dense_search(question, 20)) & ids

    assert assistant.delete(doc_id) is True

    assert doc_id not in {a.doc_id for a in assistant.list_articles()}
    assert store.article(doc_id) is None
    with store._vectors() as vectors:
        assert vectors.collection.get(where={"doc_id": doc_id})["ids"] == []
    assert store.bm25_search("zorblaxian", 5) == []
    assert not set(c for c, _ in store.dense_search(question, 20)) & ids
    assert_store_consistent(store)
    assert assistant.delete(doc_id) is False

    report = assistant.ingest([story])
    assert report.added == [doc_id]
    assert {c for c in store.chunk_ids() if c.startswith(f"{doc_id}:")} == ids
    assert_store_consistent(store)
