"""The Chroma side of a store: one collection of chunk vectors, whatever client holds it.

Chunk ids are deterministic and every write is an upsert. Each record carries the chunk's
text (as the Chroma document) and, as metadata, everything an index needs to rebuild its
row (doc_id, title, published_ord, offsets, idx, content hash), so that a server store can
rebuild its keyword index from Chroma alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from rag.errors import StoreBusyError
from rag.store.index import Item
from rag.types import Article, Chunk

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Where

VectorArray = Sequence[Sequence[float]] | np.ndarray
_DELETE_BATCH = 100  # doc_ids per ``$in`` filter
# Chroma's SQLite pool gives up on a connection it waited for too long, as after the
# process was paused (SIGSTOP, a laptop asleep): the call is tried again, then reported.
_POOL_TIMEOUT = "pool timed out"
_RETRIES = 3
_RETRY_WAIT_S = 1.0

_R = TypeVar("_R")


def _retried(call: Callable[..., _R], **kwargs: Any) -> _R:
    """``call(**kwargs)``, again after Chroma's connection pool timed out (calls are idempotent)."""
    for attempt in range(_RETRIES):
        try:
            return call(**kwargs)
        except Exception as ex:
            if _POOL_TIMEOUT not in str(ex):
                raise
            logger.warning("Chroma timed out waiting for a connection (try %d): %s", attempt, ex)
            if attempt + 1 == _RETRIES:
                raise StoreBusyError(
                    "The store's database did not answer in time (was the process paused?); "
                    "run the command again: a half-finished write is repaired."
                ) from ex
            time.sleep(_RETRY_WAIT_S)
    raise AssertionError("unreachable")


def open_collection(client: ClientAPI, name: str) -> Collection:
    """The chunk collection ``name`` (cosine space), created if missing.

    ``embedding_function=None``: we always pass vectors, and Chroma's default embedder
    would download a model.
    """
    return client.get_or_create_collection(
        name, metadata={"hnsw:space": "cosine"}, embedding_function=None
    )


class ChunkVectors:
    """Chunk vectors in one Chroma collection, written and read in batches Chroma accepts.

    Example:
        >>> vectors = ChunkVectors(open_collection(client, "articles"), 5461)
        >>> vectors.query([0.1] * 384, 4)
        [('harbour-bridge:00000', 0.82), ...]
    """

    def __init__(self, collection: Collection, max_batch: int) -> None:
        """Wrap ``collection``; ``max_batch`` is the client's largest write."""
        self.collection = collection
        self.max_batch = max_batch

    def upsert(self, items: Sequence[Item], vectors: VectorArray) -> None:
        """Write the chunks' vectors, texts and metadata (``vectors`` in chunk order)."""
        chunks = [(chunk, article, digest) for article, digest, cs in items for chunk in cs]
        for i in range(0, len(chunks), self.max_batch):
            batch = chunks[i : i + self.max_batch]
            ids = [c.chunk_id for c, _, _ in batch]
            embeddings = np.asarray(vectors[i : i + self.max_batch], dtype=np.float32)
            documents = [c.text for c, _, _ in batch]
            metadatas = [_chunk_metadata(c, a, h) for c, a, h in batch]
            _retried(
                self.collection.upsert,
                ids=ids,
                embeddings=embeddings,
                documents=documents,
                metadatas=metadatas,
            )

    def delete_articles(self, doc_ids: Sequence[str]) -> None:
        """Delete every chunk of these articles."""
        for i in range(0, len(doc_ids), _DELETE_BATCH):
            self.delete_where({"doc_id": {"$in": list(doc_ids[i : i + _DELETE_BATCH])}})

    def delete_where(self, where: dict[str, Any]) -> None:
        """Delete the chunks a Chroma ``where`` filter selects."""
        _retried(self.collection.delete, where=cast("Where", where))

    def count(self) -> int:
        """Number of vectors."""
        return int(_retried(self.collection.count))

    def query(
        self,
        vector: Sequence[float],
        n: int,
        where: dict[str, Any] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the ``n`` nearest chunks (among ``ids`` if given)."""
        total = self.count() if ids is None else len(ids)
        if total == 0:
            return []
        result = _retried(
            self.collection.query,
            query_embeddings=np.asarray([vector], dtype=np.float32),
            n_results=min(n, total),
            where=cast("Where | None", where),
            ids=list(ids) if ids is not None else None,
            include=["distances"],
        )
        distances = result["distances"]
        assert distances is not None  # asked for with include=["distances"]
        return [(i, 1.0 - d) for i, d in zip(result["ids"][0], distances[0], strict=True)]

    def ids(self) -> set[str]:
        """Every chunk id (for consistency checks)."""
        found: set[str] = set()
        offset, total = 0, self.count()
        while offset < total:
            page = _retried(self.collection.get, include=[], limit=self.max_batch, offset=offset)
            found.update(page["ids"])
            offset += self.max_batch
        return found

    def records(self, doc_ids: list[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(chunk_id, text, metadata) of every chunk of these articles, page by page."""
        offset = 0
        while True:
            page = _retried(
                self.collection.get,
                where=cast("Where", {"doc_id": {"$in": doc_ids}}),
                include=["documents", "metadatas"],
                limit=self.max_batch,
                offset=offset,
            )
            yield from zip(
                page["ids"],
                page["documents"] or [],
                map(dict, page["metadatas"] or []),
                strict=True,
            )
            if len(page["ids"]) < self.max_batch:
                return
            offset += self.max_batch


def check_vectors(items: Sequence[Item], vectors: VectorArray) -> None:
    """Refuse a write whose vectors do not match its chunks one to one."""
    chunks = sum(len(cs) for _, _, cs in items)
    if chunks != len(vectors):
        raise ValueError(f"{chunks} chunks but {len(vectors)} vectors")


def date_where(since: date | None, until: date | None) -> dict[str, Any] | None:
    """A Chroma ``where`` filter on publication dates (undated articles always pass)."""
    clauses: list[dict[str, Any]] = []
    if since:
        clauses.append(
            {"$or": [{"published_ord": {"$gte": _ord(since)}}, {"published_ord": {"$eq": 0}}]}
        )
    if until:
        clauses.append({"published_ord": {"$lte": _ord(until)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _chunk_metadata(chunk: Chunk, article: Article, content_hash: str) -> dict[str, Any]:
    # idx and content_hash let a server-mode reader rebuild its index from Chroma alone.
    return {
        "doc_id": chunk.doc_id,
        "title": article.title,
        "published_ord": _ord(article.published),
        "start": chunk.start,
        "end": chunk.end,
        "idx": chunk.index,
        "content_hash": content_hash,
    }


def _ord(day: date | None) -> int:
    return day.year * 10000 + day.month * 100 + day.day if day else 0
