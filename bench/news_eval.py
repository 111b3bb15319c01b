"""News-native answers with the real model: ``rag eval news`` on the project's gold file.

    python bench/news_eval.py                               # every item, configs/default.toml
    python bench/news_eval.py --kinds timeline,freshness    # only these kinds
    python bench/news_eval.py --config configs/eval.toml    # other settings
    python bench/news_eval.py --gold FILE --corpus FOLDER   # another gold file and corpus

The corpus (``tests/data/stories`` by default) is ingested into a temporary store, then
every item of the gold file (``tests/data/news_gold.jsonl``) runs through the real default
``Assistant`` (packaged embedder and chat model, or ``--config``) and is judged by
``rag.eval.news_run.evaluate_news_file``, the code behind ``rag eval news``: timelines
(``Assistant.timeline``, no model call), what-changed answers (``Assistant.changes``, two
answers each) and freshness notes (``Assistant.ask``, one answer each). The metrics are
defined in ``docs/evaluation.md``.

``bench/results/news_eval.json`` holds the scores per split (tuning, check, all: each
kind's counts and rates, as ``rag eval news --json`` prints them without the errors), the
number of items per split and kind, the model's name, the seconds taken and, per item, its
id, split, kind and judgement flags. It holds figures and ids only: no answer text.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import ROOT, require, write_results

NAME = "news_eval"
GOLD = ROOT / "tests" / "data" / "news_gold.jsonl"
STORIES = ROOT / "tests" / "data" / "stories"
KINDS = {"TimelineJudgement": "timeline", "ChangesJudgement": "changes",
         "FreshnessJudgement": "freshness"}  # fmt: skip


def per_item(judgement: Any) -> dict[str, Any]:
    """One judgement's id, split, kind and flags (its errors quote the answers: left out)."""
    flags = dataclasses.asdict(judgement)
    flags.pop("errors")
    return {**flags, "kind": KINDS[type(judgement).__name__], "right": not judgement.errors}


def summarise(scores: dict[str, Any], judgements: list[Any]) -> dict[str, Any]:
    """The results: scores per split without their error texts, item counts, each item."""
    items = [per_item(j) for j in judgements]
    counts: dict[str, dict[str, int]] = {}
    for split in scores:
        chosen = items if split == "all" else [i for i in items if i["split"] == split]
        counts[split] = {"items": len(chosen), **Counter(i["kind"] for i in chosen)}
    splits = {}
    for split, score in scores.items():
        figures = score.to_dict()
        figures.pop("errors", None)
        splits[split] = figures
    return {
        "counts": counts,
        "scores": splits,
        "wrong": [i["id"] for i in items if not i["right"]],
        "items": items,
    }


def main(argv: list[str] | None = None, *, llm: Any = None, embedder: Any = None) -> dict:
    """Run the bench; ``llm`` and ``embedder`` replace the configured ones (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=GOLD, help="The news gold file.")
    parser.add_argument("--corpus", type=Path, default=STORIES, help="Articles to ingest.")
    parser.add_argument("--config", type=Path, help="Settings (default configs/default.toml).")
    parser.add_argument(
        "--kinds", help="Only these kinds, comma-separated (timeline,changes,freshness)."
    )
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else None

    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.eval.news_run import evaluate_news_file
    from rag.eval.news_score import text_summary

    settings = Settings.from_toml(args.config)
    # evaluate_news_file ingests the corpus into a temporary store of its own.
    assistant = Assistant(settings, llm=llm, embedder=embedder)
    started = time.perf_counter()
    scores, judgements = evaluate_news_file(
        assistant, require(args.gold), require(args.corpus), kinds, progress=True
    )
    results = {
        **summarise(scores, judgements),
        "model": assistant.model_name,
        "seconds": round(time.perf_counter() - started, 1),
    }
    config = {
        "gold": _relative(args.gold),
        "corpus": _relative(args.corpus),
        "config": _relative(args.config) if args.config else "configs/default.toml",
        "kinds": kinds,
        "settings": settings.model_dump(mode="json"),
    }
    path = write_results(NAME, config, results, args.out_dir)
    print(text_summary(scores, _relative(args.gold)))
    print(f"\n{results['model']}, {results['seconds']:.0f} s\nwrote {path}")
    return results


def _relative(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
