"""The report's figures, drawn with matplotlib (``pip install 'newsqa[report]'``).

The only module that imports matplotlib, and only when a figure is drawn: it is an
optional extra, and without it a report is written without figures (``missing()`` says
why). Figures use matplotlib's object API (no pyplot state, Agg renderer).
"""

from __future__ import annotations

import importlib.util
import io
from typing import TYPE_CHECKING

import numpy as np

from rag.eval.metrics import DEPTH, METRICS, hit_curve
from rag.eval.results import EvalReport
from rag.eval.score import OUTCOMES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MISSING = (
    "figures left out: matplotlib is not installed (install the report extra: "
    "pip install 'newsqa[report]')"
)
FIGURES = {
    "by_type": "Results by question type",
    "hit_at_k": "Retrieval: hit@k",
    "outcomes": "What happened to each question",
    "latency": "Latency",
}
COLORS = {
    "correct": "#2e7d32",
    "correct_abstention": "#81c784",
    "retrieval_miss": "#ef6c00",
    "context_miss": "#ffb74d",
    "false_abstention": "#fbc02d",
    "wrong_answer": "#c62828",
    "answered_unanswerable": "#6a1b9a",
    "error": "#616161",
}


def missing() -> str | None:
    """Why figures cannot be drawn here (matplotlib is not installed), or None."""
    return MISSING if importlib.util.find_spec("matplotlib") is None else None


def draw(report: EvalReport) -> dict[str, bytes]:
    """PNG bytes of each figure in ``FIGURES`` that has data to show ({} without matplotlib)."""
    if missing():
        return {}
    from matplotlib.figure import Figure  # heavy import, only when drawing

    figures: dict[str, bytes] = {}
    predictions = report.predictions
    if not predictions:
        return figures
    figures["by_type"] = _png(_by_type_figure(Figure(figsize=(7.5, 3.6)), report))
    if any(p.answerable and p.evidence_doc_ids for p in predictions):
        figures["hit_at_k"] = _png(_hit_figure(Figure(figsize=(6.5, 3.6)), report))
    figures["outcomes"] = _png(_outcome_figure(Figure(figsize=(7.5, 3.2)), report))
    if any(p.latency_s is not None for p in predictions):
        figures["latency"] = _png(_latency_figure(Figure(figsize=(6.5, 3.4)), report))
    return figures


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _by_type_figure(fig: Figure, report: EvalReport) -> Figure:
    ax = fig.subplots()
    answer_metric = "choice_accuracy" if report.run.get("mode") == "choice" else "contains_gold"
    series = [
        ("hit@5", "hit@5"),
        (answer_metric, METRICS[answer_metric].label),
        ("accuracy", "accuracy (answers + abstentions)"),
    ]
    kinds = list(report.by_type)
    width = 0.8 / len(series)
    for i, (name, label) in enumerate(series):
        values = [report.by_type[t].get(name) for t in kinds]
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(kinds))]
        bars = ax.bar(xs, [100 * (v or 0) for v in values], width, label=label)
        for bar, v in zip(bars, values, strict=True):
            if v is not None:
                top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
                ax.annotate(f"{100 * v:.0f}", top, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(kinds)))
    ax.set_xticklabels([f"{t}\n(n={report.by_type[t]['n']})" for t in kinds], fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 112)
    ax.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _hit_figure(fig: Figure, report: EvalReport) -> Figure:
    ax = fig.subplots()
    ks = list(range(1, DEPTH + 1))
    for lenient, label, style in (
        (False, "gold article", "o-"),
        (True, "gold or answer-bearing article", "s--"),
    ):
        curve = hit_curve(report.predictions, lenient=lenient)
        ax.plot(ks, [100 * (v or 0) for v in curve], style, label=label, markersize=4)
    read = [len(p.context_doc_ids) for p in report.predictions if p.context_doc_ids]
    if read:  # how deep the model itself reads: its passages span this many articles
        depth = sum(read) / len(read)
        ax.axvline(depth, color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            f" articles the model read\n (mean {depth:.1f}, k={report.run.get('k')})",
            (depth, 8),
            fontsize=7,
            color="grey",
        )
    ax.set_xticks(ks)
    ax.set_xlabel("k (articles)")
    ax.set_ylabel("hit@k, %")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8, ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _outcome_figure(fig: Figure, report: EvalReport) -> Figure:
    ax = fig.subplots()
    kinds = ["all", *report.by_type]
    left = [0.0] * len(kinds)
    for name in OUTCOMES:
        counts = [report.outcomes.get(t, {}).get(name, 0) for t in kinds]
        if not any(counts):
            continue
        ax.barh(kinds, counts, left=left, color=COLORS[name], label=name.replace("_", " "))
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("questions")
    ax.legend(fontsize=7, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _latency_figure(fig: Figure, report: EvalReport) -> Figure:
    ax = fig.subplots()
    series = {
        "answer time": [p.latency_s for p in report.predictions if p.latency_s is not None],
        "time to first token": [p.ttft_s for p in report.predictions if p.ttft_s is not None],
    }
    every = [v for values in series.values() for v in values]
    bins = np.histogram_bin_edges(every, bins=min(20, max(5, len(every) // 4)))
    for label, values in series.items():
        if values:
            ax.hist(values, bins=list(bins), alpha=0.6, label=label)
    for name, style in (("latency_p50_s", "-"), ("latency_p95_s", "--")):
        value = report.metrics.get(name)
        if value is not None:
            label = f"{METRICS[name].label} {value:.1f} s"
            ax.axvline(value, color="black", linestyle=style, linewidth=1, label=label)
    ax.set_xlabel("seconds")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
