"""``EvalReport``: a run's predictions and metrics, as ``metrics.json`` + ``predictions.jsonl``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.eval.gold import HALVES, EvalError
from rag.eval.metrics import outcomes, score
from rag.eval.score import Prediction

_FAILURE_ORDER = (
    "answered_unanswerable",
    "wrong_answer",
    "false_abstention",
    "context_miss",
    "retrieval_miss",
    "error",
)


@dataclass
class EvalReport:
    """What ``evaluate`` returns, and what ``metrics.json`` + ``predictions.jsonl`` hold.

    Attributes:
        metrics: Overall metrics (keys of ``METRICS``, plus ``n_*`` counts and ``errors``).
        by_type: The same metrics for each question_type.
        by_half: The same metrics for the tuning and the check half of the gold set.
        outcomes: Outcome counts, under ``all`` and each question_type.
        predictions: One per question (the lines of ``predictions.jsonl``).
        run: Mode, k, files, model, timing and whether the run was interrupted.
        ingest: Ingest time and counts when a corpus was given, else None.
        config: ``Settings.model_dump()`` of the assistant used.
        versions: Versions of Python and of the packages that shape the results.
        out: The folder written to, if any.
    """

    metrics: dict[str, Any]
    by_type: dict[str, dict[str, Any]]
    outcomes: dict[str, dict[str, int]]
    predictions: list[Prediction]
    by_half: dict[str, dict[str, Any]] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    ingest: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    out: Path | None = None

    @classmethod
    def from_predictions(cls, predictions: Sequence[Prediction], **fields: Any) -> EvalReport:
        """Score predictions overall, by question_type and by half."""
        kinds = sorted({p.question_type for p in predictions})
        by_kind = {t: [p for p in predictions if p.question_type == t] for t in kinds}
        halves = {h: [p for p in predictions if p.half == h] for h in HALVES}
        return cls(
            metrics=score(predictions),
            by_type={t: score(ps) for t, ps in by_kind.items()},
            by_half={h: score(ps) for h, ps in halves.items() if ps},
            outcomes={"all": outcomes(predictions)}
            | {t: outcomes(ps) for t, ps in by_kind.items()},
            predictions=list(predictions),
            **fields,
        )

    @classmethod
    def load(cls, run_dir: str | Path) -> EvalReport:
        """Read a run folder written by ``evaluate`` (metrics.json + predictions.jsonl)."""
        run_dir = Path(run_dir)
        metrics_path, predictions_path = run_dir / "metrics.json", run_dir / "predictions.jsonl"
        for path in (metrics_path, predictions_path):
            if not path.is_file():
                raise EvalError(f"not an eval run folder (no {path.name}): {run_dir}")
        data = json.loads(metrics_path.read_text(encoding="utf-8"))
        with predictions_path.open(encoding="utf-8") as f:
            predictions = [Prediction.from_json(json.loads(line)) for line in f if line.strip()]
        return cls(
            metrics=data["overall"],
            by_type=data.get("by_type", {}),
            by_half=data.get("by_half", {}),
            outcomes=data.get("outcomes", {}),
            predictions=predictions,
            run=data.get("run", {}),
            ingest=data.get("ingest"),
            config=data.get("config", {}),
            versions=data.get("versions", {}),
            out=run_dir,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` shape (everything but the predictions)."""
        return {
            "run": self.run,
            "overall": self.metrics,
            "by_type": self.by_type,
            "by_half": self.by_half,
            "outcomes": self.outcomes,
            "ingest": self.ingest,
            "config": self.config,
            "versions": self.versions,
        }

    def save(self, out: str | Path | None = None) -> Path:
        """Write ``metrics.json`` into ``out`` (default: the run folder); its path."""
        target = Path(out or self.out or ".")
        target.mkdir(parents=True, exist_ok=True)
        path = target / "metrics.json"
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
        return path

    def failures(self) -> list[Prediction]:
        """Questions that went wrong, worst first.

        Answered-unanswerable first, then wrong answers, false abstentions, context and
        retrieval misses and errors; within a class, the fewest gold words first.
        """
        bad = [p for p in self.predictions if p.outcome in _FAILURE_ORDER]
        return sorted(bad, key=lambda p: (_FAILURE_ORDER.index(p.outcome), p.token_recall or 0.0))
