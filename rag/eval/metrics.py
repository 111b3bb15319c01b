"""Metrics over many predictions: retrieval, context, answers, citations, abstention, speed.

``METRICS`` says how to show and compare each one; their meaning is in
``docs/evaluation.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rag.eval.score import OK_OUTCOMES, OUTCOMES, Prediction, first_rank

KS = (1, 3, 5, 10)
DEPTH = 10  # the deepest k of hit@k (and of the report's hit@k curve)
Unit = Literal["rate", "seconds", "score"]


def hit_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> bool:
    """Whether a relevant id is among the first ``k`` of ``ranked``."""
    rank = first_rank(ranked, relevant)
    return rank is not None and rank <= k


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str]) -> float:
    """``1 / rank`` of the first relevant id, 0 when none was ranked."""
    rank = first_rank(ranked, relevant)
    return 1.0 / rank if rank else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant ids among the first ``k`` of ``ranked``."""
    relevant = set(relevant)
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


@dataclass(frozen=True)
class MetricInfo:
    """How to show and compare one metric."""

    label: str
    higher_is_better: bool
    unit: Unit
    of: str  # the count it is computed over
    help: str


def _retrieval_metrics() -> dict[str, MetricInfo]:
    metrics = {}
    kinds = [("", "", "gold article"), ("lenient_", "lenient ", "gold or answer-bearing article")]
    for prefix, label, what in kinds:
        for k in KS:
            metrics[f"{prefix}hit@{k}"] = MetricInfo(
                f"{label}hit@{k}",
                True,
                "rate",
                "n_retrieval",
                f"share of questions with a {what} among the top {k} retrieved articles",
            )
        metrics[f"{prefix}mrr"] = MetricInfo(
            f"{label}MRR",
            True,
            "score",
            "n_retrieval",
            f"mean of 1/rank of the first {what} (0 when not retrieved)",
        )
    metrics["recall@10"] = MetricInfo(
        "recall@10",
        True,
        "rate",
        "n_retrieval",
        "mean share of the gold articles among the top 10 (matters for multi_doc)",
    )
    return metrics


def _metric(label: str, unit: Unit, of: str, help: str, higher: bool = True) -> MetricInfo:
    return MetricInfo(label, higher, unit, of, help)


METRICS: dict[str, MetricInfo] = {
    "accuracy": _metric(
        "accuracy", "rate", "n", "right answers plus right abstentions, over all questions"
    ),
    **_retrieval_metrics(),
    "evidence_retrieved": _metric(
        "gold retrieved",
        "rate",
        "n_retrieval",
        "a gold or answer-bearing article among the retrieved chunks",
    ),
    "evidence_in_context": _metric(
        "gold in the model's context",
        "rate",
        "n_context",
        "a gold or answer-bearing article among the passages the model read",
    ),
    "answer_retrieved": _metric(
        "answer retrieved",
        "rate",
        "n_answer_retrieved",
        "a gold answer string in the text of the retrieved chunks",
    ),
    "answer_in_context": _metric(
        "answer in the model's context",
        "rate",
        "n_answer_context",
        "a gold answer string in the passages the model read",
    ),
    "contains_gold": _metric(
        "answer contains gold",
        "rate",
        "n_answerable",
        "open mode: a gold answer occurs in the normalised answer (strict)",
    ),
    "normalized_match": _metric(
        "answer matches gold (normalised)",
        "rate",
        "n_normalized",
        "open mode: as contains gold, reading numbers, units, countries and plurals",
    ),
    "token_recall": _metric(
        "token recall",
        "score",
        "n_answerable",
        "open mode: best share of a gold answer's words in the answer",
    ),
    "choice_accuracy": _metric(
        "choice accuracy",
        "rate",
        "n_answerable",
        "choice mode: the picked option is answer_choice_index",
    ),
    "citation_precision": _metric(
        "citation precision",
        "rate",
        "n_cited_docs",
        "share of cited articles that are gold or answer-bearing",
    ),
    "all_citations_gold": _metric(
        "all citations gold",
        "rate",
        "n_cited_answers",
        "share of cited answers whose every citation is gold or answer-bearing",
    ),
    "citations_supported": _metric(
        "citations supported",
        "rate",
        "n_checked_citations",
        "share of citations the support check marked supported",
    ),
    "abstention_unanswerable": _metric(
        "abstention on unanswerable",
        "rate",
        "n_unanswerable",
        "share of unanswerable questions refused",
    ),
    "false_abstention": _metric(
        "false abstention",
        "rate",
        "n_answerable",
        "share of answerable questions refused",
        higher=False,
    ),
    "latency_p50_s": _metric(
        "latency p50", "seconds", "n_timed", "median answer time", higher=False
    ),
    "latency_p95_s": _metric(
        "latency p95", "seconds", "n_timed", "95th-percentile answer time", higher=False
    ),
    "ttft_p50_s": _metric(
        "TTFT p50", "seconds", "n_ttft", "median time to the first answer token", higher=False
    ),
    "ttft_p95_s": _metric(
        "TTFT p95",
        "seconds",
        "n_ttft",
        "95th-percentile time to the first token",
        higher=False,
    ),
    "retried": _metric(
        "retried",
        "rate",
        "n",
        "share of questions asked the model a second time (the first answer did not answer)",
        higher=False,
    ),
    "retry_p50_s": _metric(
        "retry p50",
        "seconds",
        "n_retried",
        "median time the second try added to a retried question",
        higher=False,
    ),
}


def score(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """Aggregate predictions into the metrics of ``METRICS`` plus their counts.

    A metric whose count is 0 is None (e.g. retrieval metrics of unanswerable questions).
    """
    answerable = [p for p in predictions if p.answerable]
    unanswerable = [p for p in predictions if not p.answerable]
    with_evidence = [p for p in answerable if p.evidence_doc_ids]
    in_context = [p.evidence_in_context for p in with_evidence if p.evidence_in_context is not None]
    cited = [p for p in answerable if p.cited_doc_ids and not p.abstained]
    cited_docs = [d in p.answer_docs for p in cited for d in p.cited_doc_ids]
    checked = [
        c["supported"] for p in predictions for c in p.citations if c["supported"] is not None
    ]
    latency = [p.latency_s for p in predictions if p.latency_s is not None]
    ttft = [p.ttft_s for p in predictions if p.ttft_s is not None]
    retries = [p.timings["retry_s"] for p in predictions if "retry_s" in p.timings]

    def given(values: Iterable[Any]) -> list[Any]:
        return [v for v in values if v is not None]

    answer_retrieved = given(p.answer_retrieved for p in answerable)
    answer_context = given(p.answer_in_context for p in answerable)
    normalized = given(p.normalized_match for p in answerable)
    m: dict[str, Any] = {
        "n": len(predictions),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_retrieval": len(with_evidence),
        "n_context": len(in_context),
        "n_answer_retrieved": len(answer_retrieved),
        "n_answer_context": len(answer_context),
        "n_normalized": len(normalized),
        "n_cited_docs": len(cited_docs),
        "n_cited_answers": len(cited),
        "n_checked_citations": len(checked),
        "n_timed": len(latency),
        "n_ttft": len(ttft),
        "n_retried": len(retries),
        "errors": sum(1 for p in predictions if p.error),
        "accuracy": _mean(p.outcome in OK_OUTCOMES for p in predictions),
    }
    for prefix, lenient in (("", False), ("lenient_", True)):
        for k in KS:
            m[f"{prefix}hit@{k}"] = _mean(
                hit_at_k(p.ranked_doc_ids, _relevant(p, lenient), k) for p in with_evidence
            )
        m[f"{prefix}mrr"] = _mean(
            reciprocal_rank(p.ranked_doc_ids, _relevant(p, lenient)) for p in with_evidence
        )
    m["recall@10"] = _mean(
        recall_at_k(p.ranked_doc_ids, p.evidence_doc_ids, 10) for p in with_evidence
    )
    m["evidence_retrieved"] = _mean(p.evidence_retrieved for p in with_evidence)
    m["evidence_in_context"] = _mean(in_context)
    m["answer_retrieved"] = _mean(answer_retrieved)
    m["answer_in_context"] = _mean(answer_context)
    m["contains_gold"] = _mean(given(p.contains_gold for p in answerable))
    m["normalized_match"] = _mean(normalized)
    m["token_recall"] = _mean(given(p.token_recall for p in answerable))
    m["choice_accuracy"] = _mean(given(p.choice_correct for p in answerable))
    m["citation_precision"] = _mean(cited_docs)
    m["all_citations_gold"] = _mean(set(p.cited_doc_ids) <= p.answer_docs for p in cited)
    m["citations_supported"] = _mean(bool(s) for s in checked)
    m["abstention_unanswerable"] = _mean(p.abstained for p in unanswerable)
    m["false_abstention"] = _mean(p.abstained for p in answerable)
    for name, values in (("latency", latency), ("ttft", ttft)):
        for q in (50, 95):
            m[f"{name}_p{q}_s"] = _percentile(values, q)
    m["retried"] = _mean("retry_s" in p.timings for p in predictions)
    m["retry_p50_s"] = _percentile(retries, 50)
    return m


def _relevant(p: Prediction, lenient: bool) -> set[str]:
    return p.answer_docs if lenient else set(p.evidence_doc_ids)


def hit_curve(predictions: Sequence[Prediction], lenient: bool = False) -> list[float | None]:
    """hit@k for k = 1..DEPTH over the answerable questions with gold articles."""
    with_evidence = [p for p in predictions if p.answerable and p.evidence_doc_ids]
    ranks = [p.lenient_rank if lenient else p.evidence_rank for p in with_evidence]
    return [_mean(r is not None and r <= k for r in ranks) for k in range(1, DEPTH + 1)]


def outcomes(predictions: Sequence[Prediction]) -> dict[str, int]:
    """How many questions ended in each ``OUTCOMES`` class (all classes, zeros included)."""
    counts = Counter(p.outcome for p in predictions)
    return {name: counts.get(name, 0) for name in OUTCOMES}


def _percentile(values: Sequence[float], q: int) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _mean(values: Iterable[Any]) -> float | None:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else None
