"""Question -> ranked ``Hit``s: dense (Chroma) and BM25 (SQLite FTS5) fused by reciprocal rank.

Articles published after ``until`` (the question's "today") are never returned, so an
"as of" question cannot be answered from the future.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np

from rag.config import RetrieveSettings
from rag.embed import Embedder
from rag.store import Store, date_where
from rag.text import read_time
from rag.types import Hit

logger = logging.getLogger(__name__)

# Threads shared by all searches, for their BM25 side (see ``search``).
_BM25_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="newsqa-bm25")


@dataclass(frozen=True)
class Filters:
    """Which articles may be used: published within [since, until], not in ``exclude``."""

    since: date | None = None
    until: date | None = None
    exclude: frozenset[str] = frozenset()  # doc_ids (e.g. to withhold gold articles in eval)


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
    return search_with_vector(store, embedder, question, settings, filters, k)[0]


def search_with_vector(
    store: Store,
    embedder: Embedder,
    question: str,
    settings: RetrieveSettings,
    filters: Filters = Filters(),
    k: int | None = None,
) -> tuple[list[Hit], np.ndarray]:
    """``search``, and the question's vector (the ask path embeds the question once).

    A date filter inside Chroma costs ~30x the query itself on 100k chunks
    (bench/results/retrieval.json), so dense search avoids it: the whole range is
    ``overfetch`` times the candidates fetched unfiltered and filtered here (a filtered
    query only when too few pass), and the recent window is searched by its chunk ids.
    """
    k = k or settings.k
    n = max(settings.candidates, k)
    recent = None
    if filters.until and settings.recent_days:
        # News questions are mostly about what happened just before they were asked: a
        # second pair of searches restricted to recent articles lets those compete.
        # (a date in the first days of year 1 has no window before it: date.min then)
        window = timedelta(settings.recent_days)
        start = filters.until - window if filters.until - date.min > window else date.min
        recent = Filters(since=max(filters.since or date.min, start), until=filters.until)

    def keyword_searches() -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        main = _keyword(store, question, n, filters, settings.overfetch)
        if recent is None:
            return main, []
        return main, store.bm25_search(question, n, since=recent.since, until=recent.until)

    # BM25 needs no vector: it runs on another thread while the question is embedded (both
    # release the GIL), which saves the shorter of the two on a multi-core machine.
    keyword_future = _BM25_THREADS.submit(keyword_searches)
    vector = embedder.encode([question])[0]
    dense = _dense(store, vector, n, filters, settings)
    keyword, keyword_recent = keyword_future.result()
    rankings = [[cid for cid, _ in dense], [cid for cid, _ in keyword]]
    weights = [settings.dense_weight, settings.bm25_weight]
    if recent is not None:
        relative = read_time(question).relative
        weight = settings.recent_weight_relative if relative else settings.recent_weight
        dense_recent = _dense_window(store, vector, n, recent, settings.max_window_ids)
        rankings += [[cid for cid, _ in dense_recent], [cid for cid, _ in keyword_recent]]
        weights += [weight * settings.dense_weight, weight * settings.bm25_weight]
        dense = dense + dense_recent
    if filters.exclude:
        rankings = [[c for c in r if c.rsplit(":", 1)[0] not in filters.exclude] for r in rankings]
    fused = fuse(rankings, weights, settings.rrf_k)
    dense_by_id, bm25_by_id = dict(dense), dict(keyword)
    hits = [
        replace(hit, dense=dense_by_id.get(hit.chunk_id), bm25=bm25_by_id.get(hit.chunk_id))
        for hit in store.hits(fused)
    ]
    return _diversify(hits, k, settings.max_per_article), vector


def nearest(
    store: Store,
    vector: np.ndarray,
    settings: RetrieveSettings,
    filters: Filters,
    k: int | None = None,
) -> list[Hit]:
    """The chunks closest in meaning to an embedded question within ``filters``: dense only.

    A second look at a date window once the question is embedded (no BM25, no fusion);
    ``Hit.dense`` and ``Hit.score`` are the cosine similarity.
    """
    k = k or settings.k
    dense = _dense(store, vector.tolist(), max(settings.candidates, k), filters, settings)
    hits = [replace(hit, dense=hit.score) for hit in store.hits(dense)]
    return _diversify(hits, k, settings.max_per_article)


def read_articles(
    store: Store, hits: Sequence[Hit], known: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The text of each hit's article, each read once (the hit's own text when it is gone).

    ``known`` holds texts already read for the same question: they are not read again.
    """
    texts: dict[str, str] = {}
    for hit in hits:
        if hit.doc_id in texts:
            continue
        if known and hit.doc_id in known:
            texts[hit.doc_id] = known[hit.doc_id]
            continue
        stored = store.article(hit.doc_id)
        texts[hit.doc_id] = stored.text if stored and stored.text else hit.text
    return texts


def _dense(
    store: Store, vector: Sequence[float], n: int, filters: Filters, settings: RetrieveSettings
) -> list[tuple[str, float]]:
    """The ``n`` nearest chunks within ``filters``: filtered in Python when enough pass."""
    if not (filters.since or filters.until):
        return store.dense_search(vector, n)
    fetch = n * settings.overfetch
    pool = store.dense_search(vector, fetch)
    found = _within(pool, store.published([cid for cid, _ in pool]), filters, n)
    if len(found) < n and len(pool) == fetch:  # most of the store is outside the dates
        if filters.since and filters.until:
            return _dense_window(store, vector, n, filters, settings.max_window_ids)
        found = store.dense_search(vector, n, where=date_where(filters.since, filters.until))
    return found


def _keyword(
    store: Store, question: str, n: int, filters: Filters, overfetch: int
) -> list[tuple[str, float]]:
    """The ``n`` best BM25 matches within ``filters``, filtered in Python like ``_dense``.

    The date filter in SQL joins every matching row to its article before ranking.
    """
    if not (filters.since or filters.until):
        return store.bm25_search(question, n)
    fetch = n * overfetch
    pool = store.bm25_search(question, fetch)
    found = _within(pool, store.published([cid for cid, _ in pool]), filters, n)
    if len(found) < n and len(pool) == fetch:
        found = store.bm25_search(question, n, since=filters.since, until=filters.until)
    return found


def _dense_window(
    store: Store, vector: Sequence[float], n: int, window: Filters, max_ids: int
) -> list[tuple[str, float]]:
    """The ``n`` nearest chunks in a date window, searched among its chunk ids if few."""
    assert window.since and window.until
    ids = store.window_ids(window.since, window.until)
    if len(ids) > max_ids:  # a long window: listing its ids costs more than a filter
        return store.dense_search(vector, n, where=date_where(window.since, window.until))
    return store.dense_search(vector, n, ids=ids)


def _within(
    scored: Sequence[tuple[str, float]],
    published: dict[str, date | None],
    filters: Filters,
    n: int,
) -> list[tuple[str, float]]:
    """The first ``n`` of ``scored`` published within ``filters`` (undated chunks pass)."""
    since, until = filters.since or date.min, filters.until or date.max
    out = []
    for cid, score in scored:
        if cid in published and ((day := published[cid]) is None or since <= day <= until):
            out.append((cid, score))
            if len(out) == n:
                break
    return out


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
