"""Chunks <-> storage: vectors in Chroma, text, metadata and a BM25 index in SQLite.

The only package that imports ``chromadb``. One ``Store`` protocol, two stores built by
composition from the same parts:

    index.py    ``SearchIndex``: the SQLite file (schema, rows, FTS5/BM25, term counts,
                date windows)
    vectors.py  ``ChunkVectors``: one Chroma collection of chunk vectors
    reads.py    the reads both stores answer the same way, through two accessors
    local.py    ``LocalStore``: index + Chroma on disk + write lock + crash journal
    server.py   ``ServerStore``: index as a cache + a Chroma server + generation sync

``open_store`` picks one from ``StoreSettings``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from rag.config import StoreSettings
from rag.errors import ConfigError
from rag.store.index import SearchIndex, StoredArticle
from rag.store.local import LocalStore
from rag.store.server import ServerStore
from rag.store.vectors import VectorArray, date_where
from rag.text import query_terms  # re-exported for the modules that still import it here
from rag.types import Article, ArticleInfo, Chunk, Hit


class Store(Protocol):
    """What the pipeline needs from a store, local or on a Chroma server."""

    path: Path

    def writing(self) -> AbstractContextManager[None]:
        """Hold the right to write (``put`` runs inside it)."""
        ...

    def put(
        self, items: Sequence[tuple[Article, str, Sequence[Chunk]]], vectors: VectorArray
    ) -> None:
        """Replace each (article, content hash, chunks) by this version, with its vectors."""
        ...

    def delete(self, doc_id: str) -> bool:
        """Remove an article and its chunks; False if it was not stored."""
        ...

    def content_hash(self, doc_id: str) -> str | None:
        """The stored content hash of an article, or None if it is not (completely) stored."""
        ...

    def count(self) -> int:
        """Number of stored chunks."""
        ...

    def list_articles(self) -> list[ArticleInfo]:
        """Every stored article, newest first."""
        ...

    def article(self, doc_id: str) -> StoredArticle | None:
        """One stored article with its full text, or None."""
        ...

    def bm25_search(
        self, query: str, n: int, since: date | None = None, until: date | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score) of the best ``n`` keyword matches."""
        ...

    def term_rows(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each term (counted up to the BM25 row budget + 1)."""
        ...

    def dense_search(
        self,
        vector: Sequence[float],
        n: int,
        where: dict[str, Any] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the ``n`` nearest chunks."""
        ...

    def hits(self, scored: Sequence[tuple[str, float]]) -> list[Hit]:
        """Hits for (chunk_id, score) pairs, in the same order."""
        ...

    def published(self, chunk_ids: Sequence[str]) -> dict[str, date | None]:
        """The publication date of each known chunk's article."""
        ...

    def window_ids(self, since: date, until: date) -> tuple[str, ...]:
        """Ids of the chunks published within [since, until], undated ones included."""
        ...

    def chunk_ids(self) -> set[str]:
        """Every chunk id of the index (for consistency checks)."""
        ...

    def vector_count(self) -> int:
        """Number of vectors."""
        ...

    def vector_ids(self) -> set[str]:
        """Every chunk id of the vectors (for consistency checks)."""
        ...

    def close(self) -> None:
        """Release the index and the Chroma client."""
        ...


def open_store(settings: StoreSettings, path: Path) -> Store:
    """The store ``settings`` describe: on a Chroma server if ``url`` is set, else at ``path``.

    Example:
        >>> open_store(StoreSettings(url="http://127.0.0.1:8000"), Path("/tmp/cache"))
    """
    if not settings.url:
        return LocalStore(path, settings.collection, index=settings.index)
    headers = dict(settings.headers)
    if settings.token_env:
        token = os.environ.get(settings.token_env)
        if not token:
            raise ConfigError(
                f"store.token_env names ${settings.token_env}, which is not set: export the "
                "Chroma server's token there."
            )
        headers["Authorization"] = f"Bearer {token}"
    return ServerStore(
        settings.url,
        path,
        settings.collection,
        headers=headers,
        sync_interval=settings.sync_interval,
        index=settings.index,
    )


__all__ = [
    "LocalStore",
    "SearchIndex",
    "ServerStore",
    "Store",
    "StoredArticle",
    "date_where",
    "open_store",
    "query_terms",
]
