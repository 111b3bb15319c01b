"""The reads every store answers the same way, from an index and a vector collection.

A store says *which* index and vectors a read may use, through two accessors; the reads
themselves are written once, here. A server store's ``_index()`` syncs with the server
first, so every read (including one added here later) sees other processes' writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

from rag.store.index import SearchIndex, StoredArticle
from rag.store.vectors import ChunkVectors
from rag.types import ArticleInfo, Hit


class IndexedReads(ABC):
    """Rows, keyword search and dates from ``_index()``; vector reads from ``_vectors()``."""

    @abstractmethod
    def _index(self) -> SearchIndex:
        """The index every keyword and row read uses, up to date."""

    @abstractmethod
    def _vectors(self) -> AbstractContextManager[ChunkVectors]:
        """The chunk vectors, to use inside the ``with`` block only."""

    def content_hash(self, doc_id: str) -> str | None:
        """The stored content hash of an article, or None if it is not stored."""
        return self._index().content_hash(doc_id)

    def count(self) -> int:
        """Number of stored chunks."""
        return self._index().count()

    def list_articles(self) -> list[ArticleInfo]:
        """Every stored article, newest first."""
        return self._index().list_articles()

    def article(self, doc_id: str) -> StoredArticle | None:
        """One stored article with its full text, or None."""
        return self._index().article(doc_id)

    def bm25_search(
        self, query: str, n: int, since: date | None = None, until: date | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score, higher is better) of the best ``n`` keyword matches."""
        return self._index().bm25_search(query, n, since, until)

    def term_rows(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each term (counted up to the BM25 row budget + 1)."""
        return self._index().term_rows(terms)

    def hits(self, scored: Sequence[tuple[str, float]]) -> list[Hit]:
        """Hits for (chunk_id, score) pairs, in the same order; unknown ids are dropped."""
        return self._index().hits(scored)

    def published(self, chunk_ids: Sequence[str]) -> dict[str, date | None]:
        """The publication date of each known chunk's article (None when undated)."""
        return self._index().published(chunk_ids)

    def window_ids(self, since: date, until: date) -> tuple[str, ...]:
        """Ids of the chunks published within [since, until], undated ones included."""
        return self._index().window_ids(since, until)

    def chunk_ids(self) -> set[str]:
        """Every chunk id known to the index (for consistency checks)."""
        return self._index().chunk_ids()

    def dense_search(
        self,
        vector: Sequence[float],
        n: int,
        where: dict[str, Any] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the ``n`` nearest chunks (among ``ids`` if given).

        Restricting by ``ids`` (``window_ids``) is how a short date window is searched:
        Chroma evaluates a ``where`` filter on dates by scanning its metadata, which costs
        ~30x the query on 100k chunks (bench/results/retrieval.json).
        """
        if ids is not None and not ids:
            return []
        with self._vectors() as vectors:
            return vectors.query(vector, n, where, ids)

    def vector_count(self) -> int:
        """Number of vectors (equals ``count()`` unless a write was interrupted)."""
        with self._vectors() as vectors:
            return vectors.count()

    def vector_ids(self) -> set[str]:
        """Every chunk id known to Chroma (for consistency checks)."""
        with self._vectors() as vectors:
            return vectors.ids()
