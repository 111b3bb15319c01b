"""Ingest throughput against its limit: the embedding model alone on the same chunk texts.

    python bench/ingest.py                      # the dev corpus, everything
    python bench/ingest.py --limit 3 --no-experiments

1. The limit: ``SentenceTransformer.encode`` (through ``Embedder.encode``) on exactly the
   texts ``Assistant._write`` embeds (title + "\\n" + chunk text), at the best of a few
   batch sizes (swept on a sample), measured right before and right after the ingest.
2. Our ingest: ``Assistant.ingest`` into a fresh temporary store (load, chunk, embed, store,
   BM25), the embedding model already loaded (it is shared with the limit measurement).
3. Where the rest goes: load, chunk, encode and ``Store.put`` timed one by one.
4. Alternatives that might raise the limit (ONNX Runtime int8/fp32, bf16 autocast), timed
   interleaved with torch on a sample; one that is faster is then ingested in full and
   kept only if dev retrieval hit@4 stays within 1 point.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import retrieval_quality
from common import (
    DEV_CORPUS,
    DEV_QUESTIONS,
    gate,
    limited_threads,
    pyplot,
    read_jsonl,
    table,
    write_results,
)

NAME = "ingest"
TARGET_RATIO = 0.85


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS, help="JSONL articles.")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS,
                        help="Gold questions for hit@4 (skipped if missing).")  # fmt: skip
    parser.add_argument("--limit", type=int, help="Only the first N articles of the corpus.")
    parser.add_argument("--batch-sizes", default="16,32,64,128", help="Batch sizes to sweep.")
    parser.add_argument(
        "--sweep-sample",
        type=int,
        default=384,
        help="Chunk texts used for the batch-size sweep and the alternatives.",
    )
    parser.add_argument("--rounds", type=int, default=2, help="Interleaved rounds per sweep.")
    parser.add_argument(
        "--no-experiments", action="store_true", help="Skip the alternative backends."
    )
    parser.add_argument(
        "--hit-all",
        action="store_true",
        help="Measure hit@4 of every alternative, even slower ones.",
    )
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    args = parser.parse_args(argv)

    from rag import chunk, embed
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.ingest import load
    from rag.store import LocalStore as Store

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    corpus = _corpus(args.corpus, args.limit, work)
    settings = Settings.from_toml(None)
    t0 = time.perf_counter()
    embedder = embed.load(settings.embed)
    load_model_s = time.perf_counter() - t0
    import torch

    threads = torch.get_num_threads()

    # ---- the texts Assistant._write embeds ----------------------------------------------------
    t0 = time.perf_counter()
    articles, failures = load([corpus])
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    per_article = [
        (a, chunk.split_article(a, embedder.tokenizer, settings.chunk.max_tokens,
                                settings.chunk.overlap_sentences))
        for a in articles
    ]  # fmt: skip
    chunk_s = time.perf_counter() - t0
    texts = [f"{a.title}\n{c.text}" for a, cs in per_article for c in cs]
    n_chunks = len(texts)
    text_mb = sum(len(a.text.encode("utf-8")) for a in articles) / 1e6
    tokens = [len(ids) for ids in embedder.tokenizer(texts, truncation=True)["input_ids"]]
    embedder.encode(texts[:8])  # warm-up: first-call allocations are not the steady state

    # ---- batch-size sweep (interleaved rounds on a sample) ------------------------------------
    sample = texts[: args.sweep_sample]
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    sweep: dict[int, list[float]] = {bs: [] for bs in sizes}
    for _ in range(args.rounds):
        for bs in sizes:
            t0 = time.perf_counter()
            embedder.encode(sample, batch_size=bs)
            sweep[bs].append(len(sample) / (time.perf_counter() - t0))
    best_bs = max(sizes, key=lambda bs: statistics.median(sweep[bs]))

    def limit_run() -> float:
        t0 = time.perf_counter()
        embedder.encode(texts, batch_size=best_bs)
        return time.perf_counter() - t0

    # ---- limit, ingest, limit -----------------------------------------------------------------
    limit_before = limit_run()
    store_dir = work / "store"
    assistant = Assistant(settings.with_overrides(store={"path": store_dir}), embedder=embedder)
    t0 = time.perf_counter()
    report = assistant.ingest([corpus])
    ingest_s = time.perf_counter() - t0
    limit_after = limit_run()
    limit_s = (limit_before + limit_after) / 2
    assert report.chunks == n_chunks, (report.chunks, n_chunks)

    # ---- breakdown: encode at the configured batch size, then Store.put alone -----------------
    t0 = time.perf_counter()
    vectors = embedder.encode(texts, batch_size=settings.embed.batch_size)
    encode_default_s = time.perf_counter() - t0
    put_store = Store(work / "put-only", settings.store.collection)
    t0 = time.perf_counter()
    offset = 0
    for batch in _batches(per_article, 256):
        count = sum(len(cs) for _, cs in batch)
        items = [(a, "bench", cs) for a, cs in batch]
        with put_store.writing():
            put_store.put(items, vectors[offset : offset + count])
        offset += count
    put_s = time.perf_counter() - t0
    put_store.close()

    questions = _questions(args.questions, {a.doc_id for a in articles})
    hit_torch = _hit_at_4(assistant, questions)

    limit_cps = n_chunks / limit_s
    ingest_cps = n_chunks / ingest_s
    results: dict[str, Any] = {
        "corpus": {
            "articles": len(articles),
            "load_failures": len(failures),
            "chunks": n_chunks,
            "text_mb": round(text_mb, 3),
            "tokens_mean": statistics.fmean(tokens),
            "tokens_max": max(tokens),
        },  # fmt: skip
        "model_load_s": load_model_s,
        "torch_threads": threads,
        "batch_size_sweep": {
            "sample_chunks": len(sample),
            "chunks_per_s": {str(bs): v for bs, v in sweep.items()},
            "best_batch_size": best_bs,
        },
        "limit": {
            "batch_size": best_bs,
            "seconds_before": limit_before,
            "seconds_after": limit_after,
            "chunks_per_s": limit_cps,
            "mb_per_s": text_mb / limit_s,
        },  # fmt: skip
        "ingest": {
            "seconds": ingest_s,
            "chunks_per_s": ingest_cps,
            "mb_per_s": text_mb / ingest_s,
            "report": report.to_dict() if hasattr(report, "to_dict") else str(report),
        },
        "breakdown_s": {
            "load": load_s,
            "chunk": chunk_s,
            f"encode_bs{settings.embed.batch_size}": encode_default_s,
            "store_put": put_s,
            "sum": load_s + chunk_s + encode_default_s + put_s,
        },  # fmt: skip
        "retrieval_hit_at_4": {"questions": len(questions), "torch": hit_torch},
        "target": gate(ingest_cps / limit_cps, TARGET_RATIO, higher_is_better=True)
        | {"what": "ingest chunks/s >= 0.85 x limit chunks/s"},
    }
    if hit_torch is not None and args.corpus == DEV_CORPUS and not args.limit:  # the dev set
        results["targets"] = {
            "ingest_vs_limit": results["target"],
            "hit_at_4": retrieval_quality.target(hit_torch),
        }
    if not args.no_experiments:
        results["alternatives"] = _alternatives(
            embedder, sample, best_bs, corpus, settings, questions, hit_torch, args.hit_all, work
        )
    config = {"argv": argv, "corpus": str(args.corpus), "limit": args.limit,
              "batch_sizes": sizes, "rounds": args.rounds, "settings": settings.model_dump(),
              "physical_cores": limited_threads()}  # fmt: skip
    path = write_results(NAME, config, results, args.out_dir)
    _plot(results, path.with_suffix(".png"))
    _print(results, path)
    shutil.rmtree(work, ignore_errors=True)  # stores can be GBs
    return results


def _corpus(path: Path, limit: int | None, work: Path) -> Path:
    if not limit:
        return path
    rows = read_jsonl(path, limit)
    small = work / "corpus.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return small


def _batches(per_article: list[Any], size: int) -> list[list[Any]]:
    """Articles grouped as ``Assistant.ingest`` groups them (>= ``size`` chunks a write)."""
    out: list[list[Any]] = []
    current: list[Any] = []
    for item in per_article:
        current.append(item)
        if sum(len(cs) for _, cs in current) >= size:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _questions(path: Path, doc_ids: set[str]) -> list[dict[str, Any]]:
    """Answerable questions whose evidence is in the ingested corpus."""
    return retrieval_quality.answerable(path, doc_ids)


def _hit_at_4(assistant: Any, questions: list[dict[str, Any]]) -> float | None:
    """Share of questions with an evidence article among the 4 retrieved chunks."""
    return retrieval_quality.hit_at_4(assistant, questions)


def _alternatives(
    embedder: Any, sample: list[str], best_bs: int, corpus: Path, settings: Any,
    questions: list[dict[str, Any]], hit_torch: float | None, hit_all: bool, work: Path,
) -> dict[str, Any]:  # fmt: skip
    """Each alternative timed against torch on ``sample``, interleaved, three rounds."""
    import numpy as np
    from alt_embedders import alternatives

    from rag.assistant import Assistant

    out: dict[str, Any] = {}
    reference = embedder.encode(sample, batch_size=best_bs)
    for name, factory in alternatives(embedder, limited_threads()).items():
        if isinstance(factory, str):
            out[name] = {"skipped": factory}
            continue
        try:
            alt = factory()
            alt.encode(sample[:8])
        except Exception as ex:  # an experiment that cannot run is reported, not fatal
            out[name] = {"skipped": f"{type(ex).__name__}: {ex}"}
            continue
        alt_cps, torch_cps = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            vectors = alt.encode(sample)
            alt_cps.append(len(sample) / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            embedder.encode(sample, batch_size=best_bs)
            torch_cps.append(len(sample) / (time.perf_counter() - t0))
        cosine = np.sum(np.asarray(vectors) * reference, axis=1)
        speedup = statistics.median(alt_cps) / statistics.median(torch_cps)
        row: dict[str, Any] = {
            "chunks_per_s": alt_cps, "torch_chunks_per_s": torch_cps, "speedup": speedup,
            "cosine_to_torch_min": float(cosine.min()),
            "cosine_to_torch_mean": float(cosine.mean()),
        }  # fmt: skip
        if (speedup > 1.0 or hit_all) and questions:
            store = work / f"alt-{len(out)}"
            assistant = Assistant(settings.with_overrides(store={"path": store}), embedder=alt)
            t0 = time.perf_counter()
            report = assistant.ingest([corpus])
            row["ingest_chunks_per_s"] = report.chunks / (time.perf_counter() - t0)
            row["hit_at_4"] = _hit_at_4(assistant, questions)
            row["kept"] = bool(
                speedup > 1.0 and hit_torch is not None and row["hit_at_4"] >= hit_torch - 0.01
            )
        else:
            row["kept"] = False
            row["why_not"] = "slower than torch on this CPU" if speedup <= 1.0 else "no questions"
        out[name] = row
    return out


def _plot(results: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    labels = ["ingest", f"limit (bs {results['limit']['batch_size']})"]
    values = [results["ingest"]["chunks_per_s"], results["limit"]["chunks_per_s"]]
    for bs, v in results["batch_size_sweep"]["chunks_per_s"].items():
        labels.append(f"encode bs {bs}\n(sample)")
        values.append(statistics.median(v))
    for name, row in results.get("alternatives", {}).items():
        if "chunks_per_s" in row:
            labels.append(name.replace(" (", "\n("))
            values.append(statistics.median(row["chunks_per_s"]))
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 1.1), 4))
    colors = ["tab:blue", "tab:green"] + ["tab:gray"] * (len(labels) - 2)
    ax.bar(range(len(labels)), values, color=colors)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylabel("chunks / s")
    ax.axhline(TARGET_RATIO * results["limit"]["chunks_per_s"], ls="--", color="tab:red",
               label=f"target: {TARGET_RATIO} x limit")  # fmt: skip
    ax.legend(fontsize=8)
    ax.set_title(f"Ingest vs embedding limit ({results['corpus']['chunks']} chunks)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _print(results: dict[str, Any], path: Path) -> None:
    c = results["corpus"]
    print(
        f"corpus: {c['articles']} articles, {c['chunks']} chunks, {c['text_mb']:.2f} MB text, "
        f"{c['tokens_mean']:.0f} word pieces/chunk; torch threads {results['torch_threads']}"
    )
    rows = [
        ["ingest (Assistant.ingest)", results["ingest"]["chunks_per_s"],
         results["ingest"]["mb_per_s"], results["ingest"]["seconds"]],
        [f"limit: encode bs {results['limit']['batch_size']}", results["limit"]["chunks_per_s"],
         results["limit"]["mb_per_s"], c["chunks"] / results["limit"]["chunks_per_s"]],
    ]  # fmt: skip
    print(table(["what", "chunks/s", "MB/s", "seconds"], rows))
    t = results["target"]
    print(f"ingest / limit = {t['measured']:.2f} (target >= {t['target']}): "
          f"{'met' if t['met'] else 'NOT met'}")  # fmt: skip
    print("\nbreakdown (s):", ", ".join(f"{k} {v:.2f}" for k, v in results["breakdown_s"].items()))
    sweep = results["batch_size_sweep"]["chunks_per_s"]
    print(
        "batch sweep (chunks/s, median):",
        ", ".join(f"bs {bs}: {statistics.median(v):.1f}" for bs, v in sweep.items()),
    )
    hit = results["retrieval_hit_at_4"]
    print(f"retrieval hit@4 (torch): {hit['torch']} over {hit['questions']} questions")
    alts = results.get("alternatives", {})
    if alts:
        rows = []
        for name, row in alts.items():
            if "skipped" in row:
                rows.append([name, "-", "-", "-", "skipped: " + row["skipped"]])
            else:
                rows.append(
                    [
                        name,
                        statistics.median(row["chunks_per_s"]),
                        row["speedup"],
                        row.get("hit_at_4", float("nan")),
                        row.get("why_not", "not kept") if not row["kept"] else "kept",
                    ]
                )
                # fmt: skip
        print()
        print(table(["alternative", "chunks/s", "x torch", "hit@4", "verdict"], rows))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
