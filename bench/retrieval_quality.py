"""Retrieval quality on the dev set, ours against naive dense retrieval: hit@4, no LLM.

    python bench/retrieval_quality.py                        # temporary stores, a few min
    python bench/retrieval_quality.py --store /tmp/devstore  # ours reused: only naive embeds

Ingests the dev corpus (``Assistant.ingest``, so unchanged articles are skipped when
``--store`` already holds them) and, in the same run, the naive tutorial pipeline's chunks
(``bench/naive.py``: 1000/200 characters, own Chroma collection, same embedder). Every
answerable question is then retrieved by both: ours through ``Assistant.retrieve`` with the
default settings (``retrieve.k`` chunks, as an answer retrieves) and its ``question_date``
as today; naive as its dense top-4 chunks. Both are scored with the one hit@4 definition
of the benches (``common.gold_in_top_articles``): a gold article among the first 4
distinct articles of the arm's ranking. Figures for the tuning half, the check half and
all questions (``rag.eval.gold.split_date``). Results hold figures and question ids only.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from common import (
    DEV_CORPUS,
    DEV_QUESTIONS,
    gate,
    gold_in_top_articles,
    read_jsonl,
    require,
    write_results,
)
from naive import DESCRIPTION as NAIVE
from naive import NaivePipeline

NAME = "retrieval_quality"
TARGET = 0.90  # dev hit@4 (the target)
HALVES = ("tuning", "check", "all")


def answerable(path: Path, doc_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Answerable questions (whose evidence is in ``doc_ids``, when given)."""
    if not path.exists():
        return []
    return [
        q
        for q in read_jsonl(path)
        if q.get("answerable")
        and (doc_ids is None or set(q.get("evidence_doc_ids") or []) & doc_ids)
    ]


def ranking(assistant: Any, q: dict[str, Any]) -> list[str]:
    """The articles of the chunks ours retrieves for ``q`` (as an answer would), in order."""
    hits = assistant.retrieve(q["question"], today=date.fromisoformat(q["question_date"]))
    return [h.doc_id for h in hits]


def misses(assistant: Any, questions: list[dict[str, Any]]) -> list[str]:
    """Ids of the questions with no gold article among ours' first 4 articles."""
    return [
        q["id"]
        for q in questions
        if not gold_in_top_articles(ranking(assistant, q), q["evidence_doc_ids"])
    ]


def hit_at_4(assistant: Any, questions: list[dict[str, Any]]) -> float | None:
    """Share of ``questions`` with a gold article among ours' first 4 articles."""
    if not questions:
        return None
    return 1 - len(misses(assistant, questions)) / len(questions)


def target(hit: float) -> dict[str, Any]:
    """The hit@4 target of the issue, next to a measured figure."""
    return gate(hit, TARGET, higher_is_better=True) | {"what": f"dev hit@4 >= {TARGET:.2f}"}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS, help="JSONL articles.")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS, help="Gold questions.")
    parser.add_argument("--store", type=Path, help="Store folder to (re)use; default: temporary.")
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    args = parser.parse_args(argv)

    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.eval import load_questions, split_date
    from rag.eval.gold import half_of

    everything = load_questions(require(args.questions))
    cut = split_date(everything)
    halves = {q.id: half_of(q, cut) for q in everything}
    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-quality-"))
    store = args.store or (work / "store")
    settings = Settings.from_toml(None).with_overrides(store={"path": store})
    assistant = Assistant(settings)
    t0 = time.perf_counter()
    report = assistant.ingest([require(args.corpus)])
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = NaivePipeline.build(args.corpus, assistant.embedder, None, work)
    naive_ingest_s = time.perf_counter() - t0

    questions = answerable(args.questions)
    assistant.retrieve("warm-up")
    naive.search("warm-up")
    arms = {
        "ours": lambda q: ranking(assistant, q),
        "naive": lambda q: [h.doc_id for h in naive.search(q["question"])],
    }
    rows: dict[str, dict[str, Any]] = {q["id"]: {"half": halves.get(q["id"])} for q in questions}
    seconds = dict.fromkeys(arms, 0.0)
    for q in questions:
        for name, rank in arms.items():  # side by side, question by question
            t0 = time.perf_counter()
            ranked = rank(q)
            seconds[name] += time.perf_counter() - t0
            rows[q["id"]][name] = {
                "hit@4": gold_in_top_articles(ranked, q["evidence_doc_ids"]),
                "articles": len(dict.fromkeys(ranked)),
            }
    results: dict[str, Any] = {
        "questions": len(questions),
        "split_date": cut.isoformat() if cut else None,
    }
    for name in arms:
        results[name] = {"retrieve_ms_mean": 1000 * seconds[name] / max(1, len(questions))}
        for half in HALVES:
            of = [r[name] for r in rows.values() if half == "all" or r["half"] == half]
            results[name][half] = {
                "n": len(of),
                "hit_at_4": sum(r["hit@4"] for r in of) / len(of) if of else None,
                "articles_ranked_mean": sum(r["articles"] for r in of) / len(of) if of else None,
            }
        results[name]["missed"] = [i for i, r in rows.items() if not r[name]["hit@4"]]
    hit = results["ours"]["all"]["hit_at_4"]
    results |= {
        "hit_at_4": hit,
        "missed": results["ours"]["missed"],
        "target": target(hit) if hit is not None else None,
        "naive_target": (
            target(results["naive"]["all"]["hit_at_4"]) if results["naive"]["all"]["n"] else None
        ),
        "ingest_s": {"ours": ingest_s, "naive": naive_ingest_s},
        "chunks": {"ours": report.chunks, "naive": naive.chunks},
        "per_question": [{"id": i, **r} for i, r in rows.items()],
    }
    config = {
        "argv": argv,
        "corpus": str(args.corpus),
        "questions": str(args.questions),
        "retrieve": settings.retrieve.model_dump(),
        "naive": NAIVE,
    }
    path = write_results(NAME, config, results, args.out_dir)
    for half in HALVES:
        o, n = results["ours"][half], results["naive"][half]
        if o["n"]:
            print(
                f"{half:6}  hit@4 ours {o['hit_at_4']:.3f}  naive {n['hit_at_4']:.3f}  ({o['n']})"
            )
    print(
        f"target hit@4 >= {TARGET}: ours {'met' if results['target']['met'] else 'NOT met'}"
        if results["target"]
        else "no answerable questions"
    )
    print(f"wrote {path}")
    shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
