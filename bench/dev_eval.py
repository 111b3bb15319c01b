"""The dev set through ``rag eval``, by half, in open or multiple-choice mode: dev_<mode>.json.

    python bench/dev_eval.py --mode choice                      # the news quiz's own format
    python bench/dev_eval.py --mode open                        # free answers
    python bench/dev_eval.py --store DIR --llm-cache FILE       # keep the store and the answers

Each question is asked once with the default configuration (or ``--config``), as of its
``question_date``, and scored by ``rag.eval.evaluate`` on the tuning half, the check half
and all questions (``rag.eval.split_date``). In choice mode the question lists its lettered
options and the pick is scored exactly against ``answer_choice_index`` (``choice_accuracy``).
With ``--llm-cache`` the model's answers to prompts seen before are replayed: the figures
stay right, the timings then mean nothing (``replayed`` says how many were).

The results hold aggregates and question ids only: never a question, answer or article
text of the dev set (which has no licence).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DEV_CORPUS, DEV_QUESTIONS, cached_chat, require, table, write_results

HALVES = ("tuning", "check", "all")
METRICS = (
    "n",
    "n_answerable",
    "n_unanswerable",
    "errors",
    "accuracy",
    "choice_accuracy",
    "contains_gold",
    "normalized_match",
    "false_abstention",
    "abstention_unanswerable",
    "all_citations_gold",
    "retried",
    "ttft_p50_s",
    "latency_p50_s",
)


def main(argv: list[str] | None = None, *, llm: Any = None, embedder: Any = None) -> dict:
    """Run the bench; ``llm`` and ``embedder`` replace the configured ones (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("open", "choice"), default="choice")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS, help="Gold questions.")
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS, help="JSONL articles.")
    parser.add_argument(
        "--store", type=Path, help="A store holding the corpus (filled with --corpus if empty)."
    )
    parser.add_argument("--config", type=Path, help="Settings (default configs/default.toml).")
    parser.add_argument("--llm-cache", type=Path, help="Replay and record the model's answers.")
    parser.add_argument("--limit", type=int, help="Only the first N questions of each half.")
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-dev-eval-"))
    try:
        return _run(args, work, llm, embedder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: Any, work: Path, llm: Any, embedder: Any) -> dict:
    from rag import embed
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.eval import evaluate

    questions = require(args.questions)
    settings = Settings.from_toml(args.config)
    settings = settings.with_overrides(store={"path": args.store or work / "store"})
    chat, cache = cached_chat(settings, args.llm_cache, llm)
    assistant = Assistant(settings, llm=chat, embedder=embedder or embed.load(settings.embed))
    started = time.perf_counter()
    try:
        if assistant.store.count() == 0:
            assistant.ingest([require(args.corpus)])
        reports = {
            half: evaluate(assistant, questions, mode=args.mode, half=half, limit=args.limit)
            for half in ("tuning", "check")
        }
    finally:
        assistant.store.close()
    figures = {h: {m: r.metrics.get(m) for m in METRICS} for h, r in reports.items()}
    figures["all"] = _pooled(reports)
    results = {
        "mode": args.mode,
        "partial": bool(args.limit),
        "halves": figures,
        "outcomes": {h: r.outcomes["all"] for h, r in reports.items()},
        "llm_calls": {"replayed": cache.hits, "new": cache.misses} if cache else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    config = {
        "mode": args.mode,
        "questions": str(args.questions),
        "store": str(args.store) if args.store else None,
        "config": str(args.config) if args.config else "configs/default.toml",
        "llm_cache": str(args.llm_cache) if args.llm_cache else None,
        "limit": args.limit,
        "settings": settings.model_dump(mode="json"),
    }
    path = write_results(f"dev_{args.mode}", config, results, args.out_dir)
    rows = [[h, *(figures[h][m] for m in METRICS)] for h in HALVES]
    print(table(["half", *METRICS], rows))
    print(f"\nwrote {path}")
    return results


def _pooled(reports: dict[str, Any]) -> dict[str, Any]:
    """Both halves' predictions scored together (the same code as each half's)."""
    from rag.eval.metrics import score

    predictions = [p for r in reports.values() for p in r.predictions]
    m = score(predictions)
    return {name: m.get(name) for name in METRICS}


if __name__ == "__main__":
    main()
