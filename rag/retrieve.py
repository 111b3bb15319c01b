"""Question -> ranked ``Hit``s: dense (Chroma) and BM25 (SQLite FTS5) fused by reciprocal rank.

Articles published after ``until`` (the question's "today") are never returned, so an
"as of" question cannot be answered from the future.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from rag.config import RetrieveSettings
from rag.embed import Embedder
from rag.store import Store, date_where
from rag.types import Hit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """Which articles may be used: published within [since, until]."""

    since: date | None = None
    until: date | None = None


def fuse(
    rankings: Sequence[Sequence[str]], weights: Sequence[float], k: int = 60
) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion: ``sum(w / (k + rank))`` over the rankings, best first."""
    scores: dict[str, float] = defaultdict(float)
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, 1):
            scores[item] += weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def search(
    store: Store,
    embedder: Embedder,
    question: str,
    settings: RetrieveSettings,
    filters: Filters = Filters(),
    k: int | None = None,
) -> list[Hit]:
    """The ``k`` best chunks for ``question``, at most ``max_per_article`` per article.

    ``Hit.score`` is the fused score; ``Hit.dense`` the cosine similarity (when the chunk
    was among the dense candidates) and ``Hit.bm25`` its BM25 score.
    """
    k = k or settings.k
    n = max(settings.candidates, k)
    vector = embedder.encode([question])[0]
    dense = store.dense_search(vector, n, where=date_where(filters.since, filters.until))
    keyword = store.bm25_search(question, n, since=filters.since, until=filters.until)
    fused = fuse(
        [[cid for cid, _ in dense], [cid for cid, _ in keyword]],
        [settings.dense_weight, settings.bm25_weight],
        settings.rrf_k,
    )
    dense_by_id, bm25_by_id = dict(dense), dict(keyword)
    hits = [
        replace(hit, dense=dense_by_id.get(hit.chunk_id), bm25=bm25_by_id.get(hit.chunk_id))
        for hit in store.hits(fused)
    ]
    return _diversify(hits, k, settings.max_per_article)


def _diversify(hits: Sequence[Hit], k: int, per_article: int) -> list[Hit]:
    taken: list[Hit] = []
    per_doc: dict[str, int] = defaultdict(int)
    for hit in hits:
        if per_doc[hit.doc_id] < per_article:
            taken.append(hit)
            per_doc[hit.doc_id] += 1
        if len(taken) == k:
            break
    return taken
