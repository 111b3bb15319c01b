"""Issue-3 quality targets from a `rag eval` run: writes bench/results/quality.json.

    rag eval --questions ../shared/eval/dev/questions.jsonl \
             --corpus ../shared/eval/dev/corpus.jsonl --out runs/dev
    python bench/quality.py runs/dev

Reads the run's predictions.jsonl (and bench/results/answer.json for the time-to-first-token
ratio against the naive pipeline, when present) and prints each target next to its figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from rag.eval import contains_answer

RESULTS = Path(__file__).parent / "results"


def measure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue-3 figures from prediction rows."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in answerable if not r["abstained"]]

    def hit4(r: dict[str, Any]) -> bool:
        ranked = list(dict.fromkeys(r.get("ranked_doc_ids") or r["retrieved_doc_ids"]))
        return bool(set(ranked[:4]) & set(r["evidence_doc_ids"]))

    def cites_gold(r: dict[str, Any]) -> bool:
        good = set(r["evidence_doc_ids"]) | set(r.get("answer_string_found_in_docs") or [])
        return bool(r["cited_doc_ids"]) and set(r["cited_doc_ids"]) <= good

    ttft = [r["ttft_s"] for r in rows if r.get("ttft_s")]
    return {
        "n_questions": len(rows),
        "retrieval_hit@4": _rate(hit4(r) for r in answerable),
        # Re-scored with the current normaliser, so older runs compare like for like.
        "answer_contains_gold": _rate(
            not r["abstained"] and contains_answer(r["answer"], r["answers"]) for r in answerable
        ),
        "citations_all_gold_or_answer_bearing": _rate(cites_gold(r) for r in answered),
        "abstained_on_unanswerable": f"{sum(r['abstained'] for r in unanswerable)}/"
        f"{len(unanswerable)}",
        "false_abstention_on_answerable": _rate(r["abstained"] for r in answerable),
        "ttft_p50_s": round(statistics.median(ttft), 2) if ttft else None,
    }


def _rate(values: Any) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a `rag eval` output folder")
    parser.add_argument("--out", type=Path, default=RESULTS / "quality.json")
    args = parser.parse_args()
    rows = [json.loads(line) for line in open(args.run / "predictions.jsonl")]
    figures = measure(rows)
    answer_bench = RESULTS / "answer.json"
    if answer_bench.exists():
        targets = json.loads(answer_bench.read_text())["results"]["targets"]
        figures["ttft_ratio_vs_naive"] = {
            arm: round(t["ttft_p50_ratio"]["measured"], 3) for arm, t in targets.items()
        }
    targets = {
        "retrieval_hit@4": ">= 0.90 (naive 0.855)",
        "answer_contains_gold": ">= 0.60 (naive 0.48)",
        "citations_all_gold_or_answer_bearing": ">= 0.95",
        "abstained_on_unanswerable": ">= 6/7 (naive 0/7)",
        "false_abstention_on_answerable": "<= 0.10",
        "ttft_ratio_vs_naive": "<= 0.30",
    }
    for name, value in figures.items():
        print(f"{name:40} {value!s:>10}   {targets.get(name, '')}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"run": str(args.run), "figures": figures, "targets": targets}, indent=2)
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
