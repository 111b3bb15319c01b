"""``rag eval``: ask gold questions, score what came back, report and compare runs.

    gold.py     the gold set (questions.jsonl, corpus.jsonl), selections, tuning/check halves
    match.py    does an answer say the gold answer (strict and normalised), choice parsing
    score.py    ``Prediction``: one asked question, scored, and its outcome
    metrics.py  the metrics over many predictions
    results.py  ``EvalReport``: metrics.json + predictions.jsonl
    run.py      ``evaluate``: the run loop, one ``Assistant.ask`` per question
    compare.py  ``compare``: run B against run A
    report.py   report.md and report.html; figures.py draws their figures (matplotlib, an
                optional extra)
    news.py     the disagreement detector on labelled article pairs
    news_gold.py, news_score.py, news_run.py
                timelines, what-changed answers and freshness notes on a gold file

The gold-set format and the meaning of every metric are in ``docs/evaluation.md``.

Example:
    >>> from rag import Assistant
    >>> from rag.eval import compare, evaluate
    >>> report = evaluate(Assistant.from_config(), "q.jsonl", corpus="corpus.jsonl", out="runs/x")
    >>> report.metrics["hit@5"], report.by_half["check"]["accuracy"]
    >>> compare("runs/a", "runs/x").regressions
"""

from rag.eval.compare import Comparison, MetricDelta, QuestionChange, compare, comparison_markdown
from rag.eval.gold import (
    EvalError,
    GoldQuestion,
    GoldSetError,
    load_questions,
    select,
    split_date,
    withheld,
)
from rag.eval.match import (
    choice_question,
    contains_answer,
    matches_normalized,
    normalize,
    parse_choice,
    token_recall,
)
from rag.eval.metrics import METRICS, hit_at_k, reciprocal_rank, score
from rag.eval.results import EvalReport
from rag.eval.run import evaluate
from rag.eval.score import OUTCOMES, Prediction, classify, predict

__all__ = [
    "METRICS",
    "OUTCOMES",
    "Comparison",
    "EvalError",
    "EvalReport",
    "GoldQuestion",
    "GoldSetError",
    "MetricDelta",
    "Prediction",
    "QuestionChange",
    "choice_question",
    "classify",
    "compare",
    "comparison_markdown",
    "contains_answer",
    "evaluate",
    "hit_at_k",
    "load_questions",
    "matches_normalized",
    "normalize",
    "parse_choice",
    "predict",
    "reciprocal_rank",
    "score",
    "select",
    "split_date",
    "token_recall",
    "withheld",
]
