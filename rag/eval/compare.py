"""Run B against run A (the baseline): metric deltas, changed questions, config differences.

``comparison_markdown`` renders a ``Comparison`` (what ``rag eval compare`` prints).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rag.eval.metrics import METRICS
from rag.eval.report import fmt, md_escape, md_table
from rag.eval.results import EvalReport
from rag.eval.score import OK_OUTCOMES

LATENCY_TOLERANCE = 0.10  # relative slow-down before a latency metric counts as a regression
Status = Literal["improved", "regressed", "same", "n/a"]


@dataclass(frozen=True)
class MetricDelta:
    """One metric in two runs."""

    name: str
    a: float | None
    b: float | None
    delta: float | None
    status: Status


@dataclass(frozen=True)
class QuestionChange:
    """A question whose correctness differs between two runs."""

    id: str
    question: str
    question_type: str
    outcome_a: str
    outcome_b: str
    answer_a: str
    answer_b: str
    fixed: bool


@dataclass
class Comparison:
    """Run B against run A: metric deltas, changed questions and config differences."""

    a: Path
    b: Path
    overall: list[MetricDelta]
    by_type: dict[str, list[MetricDelta]]
    changed: list[QuestionChange]
    config_changes: list[tuple[str, Any, Any]]
    only_in_a: list[str]
    only_in_b: list[str]
    by_half: dict[str, list[MetricDelta]] = field(default_factory=dict)
    run_a: dict[str, Any] = field(default_factory=dict)
    run_b: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[MetricDelta]:
        """Overall metrics that got worse."""
        return [d for d in self.overall if d.status == "regressed"]

    def to_dict(self) -> dict[str, Any]:
        """The ``compare.json`` shape."""

        def rows(deltas: dict[str, list[MetricDelta]]) -> dict[str, list[dict[str, Any]]]:
            return {key: [dataclasses.asdict(d) for d in ds] for key, ds in deltas.items()}

        return {
            "a": str(self.a),
            "b": str(self.b),
            "run_a": self.run_a,
            "run_b": self.run_b,
            "regressions": [d.name for d in self.regressions],
            "overall": [dataclasses.asdict(d) for d in self.overall],
            "by_type": rows(self.by_type),
            "by_half": rows(self.by_half),
            "changed_questions": [dataclasses.asdict(c) for c in self.changed],
            "config_changes": [{"key": key, "a": a, "b": b} for key, a, b in self.config_changes],
            "only_in_a": self.only_in_a,
            "only_in_b": self.only_in_b,
            "notes": self.notes,
        }


def compare(run_a: str | Path, run_b: str | Path) -> Comparison:
    """Compare run B with run A (the baseline), metric by metric and question by question.

    A quality metric regresses when it is worse at all; a latency metric when it is more
    than ``LATENCY_TOLERANCE`` slower.

    Example:
        >>> cmp = compare("runs/main", "runs/my-branch")
        >>> [d.name for d in cmp.regressions]
        ['hit@1']
    """
    a, b = EvalReport.load(run_a), EvalReport.load(run_b)
    by_id_a = {p.id: p for p in a.predictions}
    by_id_b = {p.id: p for p in b.predictions}
    changed = []
    for qid in by_id_a.keys() & by_id_b.keys():
        pa, pb = by_id_a[qid], by_id_b[qid]
        ok_a, ok_b = pa.outcome in OK_OUTCOMES, pb.outcome in OK_OUTCOMES
        if ok_a != ok_b:
            changed.append(
                QuestionChange(
                    id=qid,
                    question=pb.question,
                    question_type=pb.question_type,
                    outcome_a=pa.outcome,
                    outcome_b=pb.outcome,
                    answer_a=pa.answer,
                    answer_b=pb.answer,
                    fixed=ok_b,
                )
            )
    order = {p.id: i for i, p in enumerate(b.predictions)}
    changed.sort(key=lambda c: (c.fixed, order[c.id]))
    only_a = sorted(by_id_a.keys() - by_id_b.keys())
    only_b = sorted(by_id_b.keys() - by_id_a.keys())
    notes = []
    if only_a or only_b:
        notes.append(
            f"the question sets differ ({len(only_a)} only in A, {len(only_b)} only in "
            "B): the metrics are not like for like"
        )
    for key, what in (("mode", "modes"), ("model", "models")):
        va, vb = a.run.get(key), b.run.get(key)
        if va != vb:
            notes.append(f"the {what} differ: {va} vs {vb}")
    if a.run.get("interrupted") or b.run.get("interrupted"):
        notes.append("a run stopped early: it covers only part of its questions")
    return Comparison(
        a=Path(run_a),
        b=Path(run_b),
        overall=_deltas(a.metrics, b.metrics),
        by_type=_grouped(a.by_type, b.by_type),
        by_half=_grouped(a.by_half, b.by_half),
        changed=changed,
        config_changes=_config_changes(a.config, b.config),
        only_in_a=only_a,
        only_in_b=only_b,
        run_a=a.run,
        run_b=b.run,
        notes=notes,
    )


def _grouped(
    a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]
) -> dict[str, list[MetricDelta]]:
    return {key: _deltas(a.get(key, {}), b.get(key, {})) for key in sorted(a.keys() | b.keys())}


def _deltas(a: dict[str, Any], b: dict[str, Any]) -> list[MetricDelta]:
    deltas = []
    for name, info in METRICS.items():
        va, vb = a.get(name), b.get(name)
        if va is None or vb is None:
            deltas.append(MetricDelta(name, va, vb, None, "n/a"))
            continue
        delta = round(vb - va, 4)
        better = delta > 0 if info.higher_is_better else delta < 0
        worse = delta < 0 if info.higher_is_better else delta > 0
        if info.unit == "seconds" and worse and abs(delta) <= LATENCY_TOLERANCE * max(va, 1e-9):
            worse = False
        status: Status = "regressed" if worse else "improved" if better and delta else "same"
        deltas.append(MetricDelta(name, va, vb, delta, status))
    return deltas


def _config_changes(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    flat_a, flat_b = _flatten(a), _flatten(b)
    skip = {"store.path"}  # every run has its own store
    keys = sorted((flat_a.keys() | flat_b.keys()) - skip)
    return [
        (key, flat_a.get(key), flat_b.get(key))
        for key in keys
        if flat_a.get(key) != flat_b.get(key)
    ]


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# ---- markdown ---------------------------------------------------------------------------------


def comparison_markdown(cmp: Comparison) -> str:
    """``rag eval compare`` as markdown (also what it prints)."""
    out = [f"# Compare: {md_escape(cmp.b.name)} vs {md_escape(cmp.a.name)} (baseline)", ""]
    for label, path, run in (("A", cmp.a, cmp.run_a), ("B", cmp.b, cmp.run_b)):
        out.append(
            f"- {label}: {md_escape(path)} · {run.get('completed', '?')} questions · "
            f"mode {run.get('mode', '?')} · k={run.get('k', '?')} · "
            f"{md_escape(run.get('started', '?'))}"
        )
    out += [f"- **note**: {md_escape(note)}" for note in cmp.notes]
    regressed = ", ".join(METRICS[d.name].label for d in cmp.regressions)
    out += [
        "",
        f"**{len(cmp.regressions)} regression(s)**" + (f": {regressed}" if regressed else ""),
    ]
    out += ["", "## Metrics", ""]
    out += md_table(
        ["metric", "A", "B", "Δ", ""],
        [_delta_row(d) for d in cmp.overall if d.status != "n/a"],
    )
    for title, groups in (("question type", cmp.by_type), ("half", cmp.by_half)):
        moved = [
            (key, d)
            for key, ds in groups.items()
            for d in ds
            if d.status in ("regressed", "improved")
        ]
        if moved:
            out += ["", f"## By {title} (changed metrics)", ""]
            out += md_table(
                [title.split()[-1], "metric", "A", "B", "Δ", ""],
                [[md_escape(key), *_delta_row(d)] for key, d in moved],
            )
    out += ["", f"## Questions whose correctness changed ({len(cmp.changed)})", ""]
    if not cmp.changed:
        out.append("None.")
    else:
        out += md_table(
            ["", "id", "type", "A", "B", "question", "A answer", "B answer"],
            [
                [
                    "fixed" if c.fixed else "**broken**",
                    md_escape(c.id),
                    md_escape(c.question_type),
                    c.outcome_a.replace("_", " "),
                    c.outcome_b.replace("_", " "),
                    md_escape(_short(c.question)),
                    md_escape(_short(c.answer_a)),
                    md_escape(_short(c.answer_b)),
                ]
                for c in cmp.changed
            ],
        )
    if cmp.config_changes:
        out += ["", "## Config differences", ""]
        out += md_table(
            ["key", "A", "B"],
            [
                [md_escape(k), md_escape(json.dumps(a)), md_escape(json.dumps(b))]
                for k, a, b in cmp.config_changes
            ],
        )
    return "\n".join(out) + "\n"


_MARKS = {"regressed": "▼ regressed", "improved": "▲ improved", "same": "", "n/a": ""}


def _delta_row(d: MetricDelta) -> list[str]:
    """Label, A, B, the change and whether it regressed or improved."""
    return [
        METRICS[d.name].label,
        fmt(d.name, d.a),
        fmt(d.name, d.b),
        _delta(d.name, d.delta),
        _MARKS[d.status],
    ]


def _delta(name: str, delta: float | None) -> str:
    if delta is None:
        return "–"
    unit = METRICS[name].unit
    if unit == "rate":
        return f"{100 * delta:+.1f} pt"
    return f"{delta:+.2f} s" if unit == "seconds" else f"{delta:+.3f}"


def _short(text: str, width: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
