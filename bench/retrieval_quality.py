"""Retrieval quality on the dev set: hit@4 of the gold article, no LLM.

    python bench/retrieval_quality.py                      # temporary store, ~1 min to embed
    python bench/retrieval_quality.py --store /tmp/devstore  # reused: only the first run embeds

Ingests the dev corpus (``Assistant.ingest``, so unchanged articles are skipped when
``--store`` already holds them), then asks every answerable question through
``Assistant.retrieve(k=4)`` with its ``question_date`` as today. A question is a hit when
one of its ``evidence_doc_ids`` is among the retrieved chunks' articles. Speed changes to
retrieval must keep this within a point of the recorded baseline (``BASELINE``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from common import DEV_CORPUS, DEV_QUESTIONS, read_jsonl, write_results

NAME = "retrieval_quality"
BASELINE = 0.976  # hit@4 before the issue-6 speed work (exact, filtered Chroma queries)
TOLERANCE = 0.01


def answerable(path: Path, doc_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Answerable questions (whose evidence is in ``doc_ids``, when given)."""
    if not path.exists():
        return []
    return [
        q for q in read_jsonl(path)
        if q.get("answerable")
        and (doc_ids is None or set(q.get("evidence_doc_ids") or []) & doc_ids)
    ]  # fmt: skip


def misses(assistant: Any, questions: list[dict[str, Any]], k: int = 4) -> list[str]:
    """Ids of the questions whose gold article is not among the ``k`` retrieved chunks."""
    missed = []
    for q in questions:
        got = assistant.retrieve(q["question"], k=k, today=date.fromisoformat(q["question_date"]))
        if not any(h.doc_id in q["evidence_doc_ids"] for h in got):
            missed.append(q["id"])
    return missed


def hit_at_4(assistant: Any, questions: list[dict[str, Any]]) -> float | None:
    """Share of ``questions`` with an evidence article among the 4 retrieved chunks."""
    if not questions:
        return None
    return 1 - len(misses(assistant, questions, 4)) / len(questions)


def target(hit: float) -> dict[str, Any]:
    """The hit@4 gate: within ``TOLERANCE`` of the baseline."""
    return {
        "measured": hit, "target": round(BASELINE - TOLERANCE, 3),
        "met": bool(hit >= BASELINE - TOLERANCE),
        "what": f"dev hit@4 within {TOLERANCE:.2f} of the baseline {BASELINE}",
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS, help="JSONL articles.")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS, help="Gold questions.")
    parser.add_argument("--store", type=Path, help="Store folder to (re)use; default: temporary.")
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    args = parser.parse_args(argv)

    from rag.assistant import Assistant
    from rag.config import Settings

    work = None if args.store else Path(tempfile.mkdtemp(prefix="bench-quality-"))
    store = args.store or (work / "store")  # type: ignore[operator]
    settings = Settings.from_toml(None).with_overrides(store={"path": store})
    assistant = Assistant(settings)
    t0 = time.perf_counter()
    report = assistant.ingest([args.corpus])
    ingest_s = time.perf_counter() - t0
    questions = answerable(args.questions)
    assistant.retrieve("warm-up", k=4)
    t0 = time.perf_counter()
    missed = misses(assistant, questions)
    retrieve_s = time.perf_counter() - t0
    hit = 1 - len(missed) / len(questions) if questions else float("nan")
    results = {
        "questions": len(questions),
        "hit_at_4": hit,
        "missed": missed,
        "baseline": BASELINE,
        "target": target(hit),
        "ingest_s": ingest_s,
        "chunks_embedded": report.chunks,
        "retrieve_ms_mean": 1000 * retrieve_s / max(1, len(questions)),
    }  # fmt: skip
    config = {"argv": argv, "corpus": str(args.corpus), "questions": str(args.questions),
              "retrieve": settings.retrieve.model_dump()}  # fmt: skip
    path = write_results(NAME, config, results, args.out_dir)
    print(f"hit@4 {hit:.3f} over {len(questions)} answerable questions "
          f"(baseline {BASELINE}; missed: {', '.join(missed) or 'none'})")  # fmt: skip
    print(f"wrote {path}")
    if work:
        shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
