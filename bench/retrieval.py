"""Hybrid retrieval latency (no LLM) as the store grows: 1k, 10k and 100k chunks.

    python bench/retrieval.py                  # --sizes 1000,10000,100000
    python bench/retrieval.py --sizes 200 --queries 5

The store starts with real dev-corpus chunks embedded by the real model (``--real``, at most
the corpus); every chunk beyond that is SYNTHETIC: text sampled from the corpus's word
frequencies, a random unit vector, a random date in the corpus's range, written directly
through ``Store.put`` (eight chunks an article). Queries are the dev questions, each with its
question_date as today, through ``Assistant.retrieve`` with the default settings. Each call
is split into its parts (question embedding, Chroma queries, FTS5 queries, the ``hits``
SQL) by timing wrappers around the embedder and the store.

With ``--hit-at-4`` it also checks that retrieval quality held: dev hit@4 through
``bench/retrieval_quality.py`` (``--quality-store`` reuses an already embedded dev store).
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import (
    DEV_CORPUS,
    DEV_QUESTIONS,
    dir_size_mb,
    gate,
    peak_rss_mb,
    pyplot,
    read_jsonl,
    rss_mb,
    summary,
    table,
    write_results,
)

NAME = "retrieval"
TARGETS_MS = {10_000: 30.0, 100_000: 100.0}
CHUNKS_PER_ARTICLE = 8
WORDS_PER_CHUNK = 150


class _Timed:
    """Wraps an object; calls of the named methods add their wall time to ``self.times``."""

    def __init__(self, inner: Any, methods: dict[str, str], times: dict[str, float]):
        self._inner, self._methods, self._times = inner, methods, times

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        label = self._methods.get(name)
        if label is None or not callable(value):
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._times[label] += time.perf_counter() - t0

        return timed


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="Store sizes in chunks.")
    parser.add_argument(
        "--real",
        type=int,
        default=1000,
        help="Real (embedded) dev chunks at the start of the store.",
    )
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS, help="JSONL articles.")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS, help="Query set.")
    parser.add_argument("--queries", type=int, help="Only the first N questions.")
    parser.add_argument("--passes", type=int, default=2, help="Timed passes over the queries.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the synthetic data.")
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    parser.add_argument(
        "--hit-at-4", action="store_true", help="Also measure dev hit@4 (retrieval_quality.py)."
    )
    parser.add_argument("--quality-store", type=Path, help="Dev store reused by --hit-at-4.")
    args = parser.parse_args(argv)

    from rag import chunk, embed
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.ingest import load
    from rag.store import LocalStore as Store
    from rag.store import date_where

    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = random.Random(args.seed)
    settings = Settings.from_toml(None)
    OVERFETCH = settings.retrieve.overfetch  # noqa: N806
    embedder = embed.load(settings.embed)
    questions = read_jsonl(args.questions, args.queries)

    # ---- the real part: dev articles, chunked and embedded as ingest does ---------------------
    articles, _ = load([args.corpus])
    n_real = min(args.real, sizes[0])
    real_items: list[tuple[Any, str, list[Any]]] = []
    total = 0
    for a in articles:
        if total >= n_real:
            break
        cs = chunk.split_article(a, embedder.tokenizer, settings.chunk.max_tokens,
                                 settings.chunk.overlap_sentences)  # fmt: skip
        cs = cs[: n_real - total]
        real_items.append((a, "bench", cs))
        total += len(cs)
    n_real = total
    t0 = time.perf_counter()
    real_vectors = embedder.encode([f"{a.title}\n{c.text}" for a, _, cs in real_items for c in cs])
    embed_real_s = time.perf_counter() - t0
    words, weights = _vocabulary(articles)
    dates = sorted(a.published for a in articles if a.published) or [date(2022, 9, 1)]

    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    store = Store(work / "store", settings.store.collection)
    with store.writing():
        store.put(real_items, real_vectors)

    times: dict[str, float] = defaultdict(float)
    timed_store = _Timed(
        store, {"dense_search": "chroma_query", "bm25_search": "fts5_query", "hits": "hits_sql",
                "published": "sqlite_dates", "window_ids": "sqlite_dates"},
        times,
    )  # fmt: skip
    timed_embedder = _Timed(embedder, {"encode": "embed_question"}, times)
    assistant = Assistant(settings, embedder=timed_embedder, store=timed_store)  # type: ignore[arg-type]

    rows: list[dict[str, Any]] = []
    size_now = n_real
    synthetic_articles = 0
    for size in sizes:
        t0 = time.perf_counter()
        while size_now < size:
            n = min(2048, size - size_now)
            items, vectors = _synthetic(n, rng, words, weights, dates, synthetic_articles)
            synthetic_articles += len(items)
            with store.writing():
                store.put(items, vectors)
            size_now += n
        build_s = time.perf_counter() - t0
        assert store.count() == size, (store.count(), size)

        for q in questions[:3]:  # warm-up: caches, first-query allocations
            assistant.retrieve(q["question"], today=date.fromisoformat(q["question_date"]))
        latencies: list[float] = []
        times.clear()
        for _ in range(args.passes):
            for q in questions:
                t0 = time.perf_counter()
                assistant.retrieve(q["question"], today=date.fromisoformat(q["question_date"]))
                latencies.append(time.perf_counter() - t0)
        calls = len(latencies)
        parts_ms = {k: 1000 * v / calls for k, v in sorted(times.items())}
        # The BM25 part runs while the question is embedded, so the parts add up to more
        # than the wall time; what is left over (fusion, Python) can come out negative.
        parts_ms["wall minus parts"] = 1000 * sum(latencies) / calls - sum(parts_ms.values())

        # Chroma alone, with and without the date filter, and FTS5 alone, on one question:
        # the filtered forms are what retrieval avoids (it over-fetches unfiltered, then
        # filters dates in Python; the recent window is searched by its chunk ids).
        probe = questions[0]
        vector = embedder.encode([probe["question"]])[0]
        until = date.fromisoformat(probe["question_date"])
        window = store.window_ids(until - timedelta(10), until)
        chroma_nofilter = _repeat(lambda v=vector: store.dense_search(v, 30), 10)
        chroma_pool = _repeat(lambda v=vector: store.dense_search(v, 30 * OVERFETCH), 10)
        chroma_window = _repeat(lambda v=vector, w=window: store.dense_search(v, 30, ids=w), 10)
        chroma_filter = _repeat(
            lambda v=vector, u=until: store.dense_search(v, 30, where=date_where(None, u)), 10
        )
        chroma_recent = _repeat(
            lambda v=vector, u=until: store.dense_search(
                v, 30, where=date_where(u - timedelta(10), u)), 10
        )  # fmt: skip
        fts = _repeat(lambda q=probe["question"], u=until: store.bm25_search(q, 30, until=u), 10)
        fts_pool = _repeat(lambda q=probe["question"]: store.bm25_search(q, 30 * OVERFETCH), 10)
        row = {
            "size": size,
            "real_chunks": min(n_real, size),
            "synthetic_chunks": max(0, size - n_real),
            "build_s": build_s,
            "latency_ms": {k: (v * 1000 if k != "n" else v) for k, v in summary(latencies).items()},
            "parts_ms_per_call": parts_ms,
            "probe_ms": {
                "chroma_query_no_filter": chroma_nofilter,
                f"chroma_query_no_filter_{30 * OVERFETCH}": chroma_pool,
                "chroma_query_until_filter": chroma_filter,
                "chroma_query_recent_10_days": chroma_recent,
                "chroma_query_recent_by_ids": chroma_window,
                "fts5_query_until": fts,
                f"fts5_query_no_filter_{30 * OVERFETCH}": fts_pool,
            },  # fmt: skip
            "store_mb": dir_size_mb(store.path),
            "rss_mb": rss_mb(),
            "peak_rss_mb": peak_rss_mb(),
        }
        rows.append(row)
        print(f"size {size:>7,}: p50 {row['latency_ms']['p50']:.1f} ms, "
              f"p95 {row['latency_ms']['p95']:.1f} ms, store {row['store_mb']:.0f} MB, "
              f"RSS {row['rss_mb']:.0f} MB (built in {build_s:.0f} s)", flush=True)  # fmt: skip
    store.close()

    targets = {
        str(size): gate(r["latency_ms"]["p50"], TARGETS_MS[size]) | {"what": "p50 ms"}
        for r in rows
        if (size := r["size"]) in TARGETS_MS
    }
    if args.hit_at_4:
        import retrieval_quality

        quality_argv = ["--out-dir", str(work / "quality")]
        if args.quality_store:
            quality_argv += ["--store", str(args.quality_store)]
        quality = retrieval_quality.main(quality_argv)
        targets["hit_at_4"] = quality["target"] | {"missed": quality["missed"]}
    results = {
        "data": (
            f"the first {n_real} chunks are real dev-corpus chunks with real vectors; "
            "the rest are SYNTHETIC (text sampled from the corpus's word frequencies, "
            "random unit vectors, random dates in the corpus's range), written directly "
            "through Store.put"
        ),  # fmt: skip
        "embed_real_s": embed_real_s,
        "queries": len(questions),
        "sizes": rows,
        "targets": targets,
    }
    config = {"argv": argv, "sizes": sizes, "real": args.real, "passes": args.passes,
              "seed": args.seed, "retrieve": settings.retrieve.model_dump(),
              "store": "Chroma PersistentClient (hnsw cosine) + SQLite FTS5"}  # fmt: skip
    path = write_results(NAME, config, results, args.out_dir)
    _plot(rows, path.with_suffix(".png"))
    _print(results, path)
    shutil.rmtree(work, ignore_errors=True)  # stores can be GBs
    return results


def _vocabulary(articles: list[Any]) -> tuple[list[str], list[int]]:
    counts = Counter(w for a in articles for w in a.text.split())
    words = list(counts)
    return words, [counts[w] for w in words]


def _synthetic(
    n: int, rng: random.Random, words: list[str], weights: list[int], dates: list[date],
    first: int,
) -> tuple[list[tuple[Any, str, list[Any]]], Any]:  # fmt: skip
    """``n`` synthetic chunks in articles of eight, and random unit vectors for them."""
    import numpy as np

    from rag.types import Article, Chunk

    items: list[tuple[Any, str, list[Any]]] = []
    made = 0
    while made < n:
        doc_id = f"synthetic-{first + len(items):07d}"
        count = min(CHUNKS_PER_ARTICLE, n - made)
        bodies = [" ".join(rng.choices(words, weights, k=WORDS_PER_CHUNK)) for _ in range(count)]
        text = "\n".join(bodies)
        chunks, start = [], 0
        for i, body in enumerate(bodies):
            chunks.append(Chunk(f"{doc_id}:{i:05d}", doc_id, i, body, start, start + len(body)))
            start += len(body) + 1
        title = " ".join(rng.choices(words, weights, k=8))
        article = Article(doc_id, title, text, source="synthetic", published=rng.choice(dates))
        items.append((article, "synthetic", chunks))
        made += count
    gen = np.random.default_rng(rng.randrange(1 << 30))
    vectors = gen.standard_normal((n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return items, vectors


def _repeat(fn: Any, times: int) -> float:
    """Median milliseconds of ``fn()`` over ``times`` calls."""
    import statistics

    fn()
    out = []
    for _ in range(times):
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return statistics.median(out)


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["size"] for r in rows]
    ax.plot(sizes, [r["latency_ms"]["p50"] for r in rows], "o-", label="p50")
    ax.plot(sizes, [r["latency_ms"]["p95"] for r in rows], "s--", label="p95")
    for size, target in TARGETS_MS.items():
        ax.plot([size], [target], "rx", markersize=10)
    ax.plot([], [], "rx", label="p50 target")
    if len(sizes) > 1:
        ax.set_xscale("log")
    ax.set_xlabel("chunks in the store")
    ax.set_ylabel("Assistant.retrieve latency (ms)")
    ax.set_title("Hybrid retrieval latency vs store size")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _print(results: dict[str, Any], path: Path) -> None:
    print("\n" + results["data"])
    rows = []
    for r in results["sizes"]:
        rows.append([f"{r['size']:,}", r["latency_ms"]["p50"], r["latency_ms"]["p95"],
                     r["store_mb"], r["rss_mb"], r["build_s"]])  # fmt: skip
    print(table(["chunks", "p50 ms", "p95 ms", "store MB", "RSS MB", "build s"], rows))
    parts = sorted({k for r in results["sizes"] for k in r["parts_ms_per_call"]})
    print("\nwhere the time goes (ms per retrieve call):")
    print(table(["chunks", *parts],
                [[f"{r['size']:,}", *[r["parts_ms_per_call"].get(p, 0.0) for p in parts]]
                 for r in results["sizes"]]))  # fmt: skip
    probes = sorted({k for r in results["sizes"] for k in r["probe_ms"]})
    print("\nsingle queries (ms, median of 10):")
    print(table(["chunks", *probes],
                [[f"{r['size']:,}", *[r["probe_ms"][p] for p in probes]]
                 for r in results["sizes"]]))  # fmt: skip
    for size, t in results["targets"].items():
        if size == "hit_at_4":
            print(f"target {t['what']}: {t['measured']:.3f} >= {t['target']}: "
                  f"{'met' if t['met'] else 'NOT met'}")  # fmt: skip
            continue
        print(f"target p50 at {int(size):,}: {t['measured']:.1f} ms <= {t['target']:.0f} ms: "
              f"{'met' if t['met'] else 'NOT met'}")  # fmt: skip
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
