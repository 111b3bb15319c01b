"""Question -> ranked ``Hit``s: dense (Chroma) and BM25 (SQLite FTS5) fused by reciprocal rank.

Articles published after ``until`` (the question's "today") are never returned, so an
"as of" question cannot be answered from the future.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

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


# Words that make a question about "now": answer from articles published near today.
_RELATIVE_TIME = re.compile(
    r"\b(this|last|past|next) (week|weekend|month|year|monday|tuesday|wednesday|thursday|friday"
    r"|saturday|sunday)\b|\b(today|yesterday|tonight|recently|latest|currently|now|so far"
    r"|this morning|on (monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.IGNORECASE,
)


def is_time_relative(question: str) -> bool:
    """Whether the question refers to time relative to when it is asked ("this week")."""
    return bool(_RELATIVE_TIME.search(question))


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
    rankings = [[cid for cid, _ in dense], [cid for cid, _ in keyword]]
    weights = [settings.dense_weight, settings.bm25_weight]
    if filters.until and settings.recent_days:
        # News questions are mostly about what happened just before they were asked: a
        # second pair of searches restricted to recent articles lets those compete.
        recent = Filters(
            since=max(filters.since or date.min, filters.until - timedelta(settings.recent_days)),
            until=filters.until,
        )
        weight = (settings.recent_weight_relative if is_time_relative(question)
                  else settings.recent_weight)  # fmt: skip
        dense_recent = store.dense_search(vector, n, where=date_where(recent.since, recent.until))
        keyword_recent = store.bm25_search(question, n, since=recent.since, until=recent.until)
        rankings += [[cid for cid, _ in dense_recent], [cid for cid, _ in keyword_recent]]
        weights += [weight * settings.dense_weight, weight * settings.bm25_weight]
        dense = dense + dense_recent
    fused = fuse(rankings, weights, settings.rrf_k)
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
