"""``EvalReport`` -> ``report.md`` and a self-contained ``report.html``; ``Comparison`` -> md.

The HTML opens offline: styles are inline and the figures are base64 data URIs. Every piece
of text that comes from a gold set, an article or the model is escaped (it is untrusted).
Figures are drawn with matplotlib's object API (no pyplot state, Agg renderer).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.evaluate import DEPTH, METRICS, OUTCOMES, Comparison, hit_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rag.evaluate import EvalReport

HEADLINE = ("accuracy", "hit@1", "hit@5", "hit@10", "mrr", "lenient_hit@5", "contains_gold",
            "token_recall", "choice_accuracy", "citation_precision", "all_citations_gold",
            "citations_supported", "abstention_unanswerable", "false_abstention",
            "latency_p50_s", "latency_p95_s", "ttft_p50_s", "ttft_p95_s")  # fmt: skip
BY_TYPE = ("accuracy", "hit@1", "hit@5", "mrr", "contains_gold", "choice_accuracy",
           "citation_precision", "false_abstention", "abstention_unanswerable",
           "latency_p50_s")  # fmt: skip
FAILURES_PER_CLASS = 10
FIGURES = {
    "by_type": "Results by question type",
    "hit_at_k": "Retrieval: hit@k",
    "outcomes": "What happened to each question",
    "latency": "Latency",
}
_COLORS = {"correct": "#2e7d32", "correct_abstention": "#81c784", "retrieval_miss": "#ef6c00",
           "false_abstention": "#fbc02d", "wrong_answer": "#c62828",
           "answered_unanswerable": "#6a1b9a", "error": "#616161"}  # fmt: skip


def write(report: EvalReport, out: Path) -> list[Path]:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` into ``out``."""
    figures = draw(report)
    figure_dir = out / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, png in figures.items():
        path = figure_dir / f"{name}.png"
        path.write_bytes(png)
        written.append(path)
    md, page = out / "report.md", out / "report.html"
    md.write_text(markdown(report, {n: f"figures/{n}.png" for n in figures}), encoding="utf-8")
    page.write_text(to_html(report, figures), encoding="utf-8")
    return [md, page, *written]


# ---- numbers -----------------------------------------------------------------------------


def fmt(name: str, value: Any) -> str:
    """A metric value for people: rates as percentages, times in seconds."""
    if value is None:
        return "–"
    info = METRICS.get(name)
    if info is None:
        return f"{value:.2f}" if isinstance(value, float) else str(value)
    if info.unit == "rate":
        return f"{100 * value:.1f}%"
    if info.unit == "seconds":
        return f"{value:.2f} s"
    return f"{value:.3f}"


def _headline_rows(report: EvalReport) -> list[tuple[str, str, str, str]]:
    """(label, value, over how many, meaning) for the metrics that apply to this run."""
    rows = []
    for name in HEADLINE:
        value = report.metrics.get(name)
        if value is None:
            continue
        info = METRICS[name]
        rows.append((info.label, fmt(name, value), str(report.metrics.get(info.of, "")),
                     info.help))  # fmt: skip
    if report.ingest:
        ingest = report.ingest
        rows.append(("ingest time", f"{ingest['seconds']:.1f} s", str(ingest["articles"]),
                     f"{ingest['chunks']} chunks written into a fresh store"))  # fmt: skip
    return rows


def _type_columns(report: EvalReport) -> list[str]:
    return [m for m in BY_TYPE if any(t.get(m) is not None for t in report.by_type.values())]


def _summary(report: EvalReport) -> str:
    run = report.run
    parts = [
        f"{run.get('completed', len(report.predictions))} of {run.get('n_questions', '?')} "
        f"questions",
        f"mode {run.get('mode', 'open')}",
        f"k={run.get('k', '?')}",
        f"model {Path(str(run.get('model', '?'))).name}",
        f"started {run.get('started', '?')}",
        f"took {run.get('duration_s', 0):.0f} s",
    ]
    if run.get("interrupted"):
        parts.append(f"STOPPED EARLY ({run.get('stopped_by')})")
    return " · ".join(parts)


# ---- figures -------------------------------------------------------------------------------


def draw(report: EvalReport) -> dict[str, bytes]:
    """PNG bytes of each figure in ``FIGURES`` that has data to show."""
    from matplotlib.figure import Figure  # heavy import, only when drawing

    figures: dict[str, bytes] = {}
    rows = report.predictions
    if not rows:
        return figures
    figures["by_type"] = _png(_by_type_figure(Figure(figsize=(7.5, 3.6)), report))
    if any(r["answerable"] and r["evidence_doc_ids"] for r in rows):
        figures["hit_at_k"] = _png(_hit_figure(Figure(figsize=(6.5, 3.6)), report))
    figures["outcomes"] = _png(_outcome_figure(Figure(figsize=(7.5, 3.2)), report))
    if any(r["latency_s"] is not None for r in rows):
        figures["latency"] = _png(_latency_figure(Figure(figsize=(6.5, 3.4)), report))
    return figures


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _by_type_figure(fig: Figure, report: EvalReport) -> Figure:
    ax = fig.subplots()
    answer_metric = "choice_accuracy" if report.run.get("mode") == "choice" else "contains_gold"
    series = [("hit@5", "hit@5"), (answer_metric, METRICS[answer_metric].label),
              ("accuracy", "accuracy (answers + abstentions)")]  # fmt: skip
    kinds = list(report.by_type)
    width = 0.8 / len(series)
    for i, (name, label) in enumerate(series):
        values = [report.by_type[t].get(name) for t in kinds]
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(kinds))]
        bars = ax.bar(xs, [100 * (v or 0) for v in values], width, label=label)
        for bar, v in zip(bars, values, strict=True):
            if v is not None:
                ax.annotate(f"{100 * v:.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)  # fmt: skip
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
    for lenient, label, style in ((False, "gold article", "o-"),
                                  (True, "gold or answer-bearing article", "s--")):  # fmt: skip
        curve = hit_curve(report.predictions, lenient=lenient)
        ax.plot(ks, [100 * (v or 0) for v in curve], style, label=label, markersize=4)
    seen = [len(r["retrieved_doc_ids"]) for r in report.predictions if r["retrieved_doc_ids"]]
    if seen:  # how deep the model itself reads: its k passages span this many articles
        depth = sum(seen) / len(seen)
        ax.axvline(depth, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f" articles the model saw\n (mean {depth:.1f}, k={report.run.get('k')})",
                    (depth, 8), fontsize=7, color="grey")  # fmt: skip
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
        ax.barh(kinds, counts, left=left, color=_COLORS[name], label=name.replace("_", " "))
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("questions")
    ax.legend(fontsize=7, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _latency_figure(fig: Figure, report: EvalReport) -> Figure:
    ax = fig.subplots()
    series = {
        label: [r[key] for r in report.predictions if r[key] is not None]
        for key, label in (("latency_s", "answer time"), ("ttft_s", "time to first token"))
    }
    every = [v for values in series.values() for v in values]
    bins = np.histogram_bin_edges(every, bins=min(20, max(5, len(every) // 4)))
    for label, values in series.items():
        if values:
            ax.hist(values, bins=list(bins), alpha=0.6, label=label)
    for name, style in (("latency_p50_s", "-"), ("latency_p95_s", "--")):
        value = report.metrics.get(name)
        if value is not None:
            ax.axvline(value, color="black", linestyle=style, linewidth=1,
                       label=f"{METRICS[name].label} {value:.1f} s")  # fmt: skip
    ax.set_xlabel("seconds")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


# ---- markdown ------------------------------------------------------------------------------


def md_escape(text: Any) -> str:
    """Text safe inside a markdown table cell: no HTML, no markup, one line."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    return re.sub(r"([\\`*_\[\]|#~])", r"\\\1", text)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown(report: EvalReport, figure_paths: dict[str, str]) -> str:
    """The report as markdown; figures are linked by relative path."""
    out = [f"# Evaluation: {md_escape(report.out.name if report.out else 'run')}", "",
           md_escape(_summary(report)), "", "## Headline", ""]  # fmt: skip
    out += _md_table(
        ["metric", "value", "n", "meaning"],
        [(label, value, n, md_escape(meaning)) for label, value, n, meaning in
         _headline_rows(report)],
    )  # fmt: skip
    out += ["", "## Outcomes", ""]
    counts = report.outcomes.get("all", {})
    out += _md_table(["outcome", "questions", "meaning"],
                     [(name.replace("_", " "), str(counts.get(name, 0)), md_escape(text))
                      for name, text in OUTCOMES.items()])  # fmt: skip
    columns = _type_columns(report)
    out += ["", "## By question type", ""]
    out += _md_table(
        ["type", "n", *(METRICS[c].label for c in columns)],
        [(md_escape(t), str(m["n"]), *(fmt(c, m.get(c)) for c in columns))
         for t, m in report.by_type.items()],
    )  # fmt: skip
    for name, path in figure_paths.items():
        out += ["", f"![{FIGURES[name]}]({path})"]
    failures = _failures_by_class(report)
    out += ["", "## Worst failures", ""]
    if not failures:
        out.append("None.")
    for outcome, rows in failures.items():
        total = report.outcomes.get("all", {}).get(outcome, len(rows))
        out += [f"### {outcome.replace('_', ' ')} ({total})", "", f"_{OUTCOMES[outcome]}_", ""]
        for r in rows:
            out += _md_failure(r)
        out.append("")
    out += ["", "## Config and versions", "", "```json",
            json.dumps({"run": report.run, "config": report.config,
                        "versions": report.versions}, indent=2, ensure_ascii=True),
            "```", ""]  # fmt: skip
    return "\n".join(out)


def _md_failure(r: dict[str, Any]) -> list[str]:
    gold = "; ".join(r["answers"]) or "(unanswerable)"
    answer = r["answer"] + (f" ({r['abstain_reason']})" if r["abstain_reason"] else "")
    lines = [
        f"- **{md_escape(r['id'])}** ({md_escape(r['question_type'])}): {md_escape(r['question'])}",
        f"  - gold: {md_escape(gold)}",
        f"  - ours: {md_escape(answer or r.get('error') or '(empty)')}",
    ]
    if r["evidence_titles"]:
        lines.append("  - gold articles: " + "; ".join(md_escape(t or d) for t, d in
                     zip(r["evidence_titles"], r["evidence_doc_ids"], strict=True)))  # fmt: skip
    retrieved = _retrieved(r)
    lines.append("  - retrieved: " + ("; ".join(
        f"{i}. {md_escape(title)}{' ✓' if good else ''}"
        for i, (title, good) in enumerate(retrieved, 1)) or "nothing"))  # fmt: skip
    return lines


def _retrieved(r: dict[str, Any]) -> list[tuple[str, bool]]:
    """(title, whether gold or answer-bearing) of the passages' articles, in rank order."""
    good = set(r["evidence_doc_ids"]) | set(r["answer_string_found_in_docs"])
    titles = r.get("retrieved_titles") or r["retrieved_doc_ids"]
    return [(t or d, d in good) for t, d in zip(titles, r["retrieved_doc_ids"], strict=False)]


def _failures_by_class(report: EvalReport) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in report.failures():
        rows = grouped.setdefault(r["outcome"], [])
        if len(rows) < FAILURES_PER_CLASS:
            rows.append(r)
    return grouped


# ---- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
.summary{color:#555}.stopped{color:#b00020;font-weight:600}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;white-space:nowrap}td.help{color:#666}
figure{margin:1em 0}figcaption{color:#555;font-size:.9em}img{max-width:100%}
.failure{border:1px solid #e0e0e0;border-left:4px solid #c62828;border-radius:4px;
padding:.5em .8em;margin:.6em 0}
.failure .q{font-weight:600}.failure dl{margin:.3em 0;display:grid;
grid-template-columns:9em 1fr;gap:.15em .6em}.failure dt{color:#666}.failure dd{margin:0}
.failure ol{margin:0;padding-left:1.4em}.good{color:#2e7d32;font-weight:600}
.tag{display:inline-block;font-size:.8em;padding:0 .4em;border-radius:3px;color:#fff}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def to_html(report: EvalReport, figures: dict[str, bytes]) -> str:
    """The report as one HTML page with inline CSS and base64-embedded figures."""
    title = f"Evaluation: {report.out.name if report.out else 'run'}"
    stopped = report.run.get("interrupted")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary{" stopped" if stopped else ""}">{_e(_summary(report))}</p>',
        "<h2>Headline</h2>",
        _html_table(
            ["metric", "value", "n", "meaning"],
            [[_e(a), _e(b), _e(c), _e(d)] for a, b, c, d in _headline_rows(report)],
            classes=["", "num", "num", "help"],
        ),  # fmt: skip
        "<h2>Outcomes</h2>",
    ]
    counts = report.outcomes.get("all", {})
    parts.append(_html_table(
        ["outcome", "questions", "meaning"],
        [[_tag(name), _e(counts.get(name, 0)), _e(text)] for name, text in OUTCOMES.items()],
        classes=["", "num", "help"],
    ))  # fmt: skip
    if "outcomes" in figures:
        parts.append(_figure(figures["outcomes"], FIGURES["outcomes"]))
    columns = _type_columns(report)
    parts += ["<h2>By question type</h2>", _html_table(
        ["type", "n", *(METRICS[c].label for c in columns)],
        [[_e(t), _e(m["n"]), *(_e(fmt(c, m.get(c))) for c in columns)]
         for t, m in report.by_type.items()],
        classes=["", "num", *("num" for _ in columns)],
    )]  # fmt: skip
    for name in ("by_type", "hit_at_k", "latency"):
        if name in figures:
            parts.append(_figure(figures[name], FIGURES[name]))
    parts.append("<h2>Worst failures</h2>")
    failures = _failures_by_class(report)
    if not failures:
        parts.append("<p>None.</p>")
    for outcome, rows in failures.items():
        total = report.outcomes.get("all", {}).get(outcome, len(rows))
        shown = f", {len(rows)} shown" if len(rows) < total else ""
        parts.append(f"<h3>{_tag(outcome)} {total} question(s){_e(shown)}</h3>"
                     f"<p class=\"summary\">{_e(OUTCOMES[outcome])}</p>")  # fmt: skip
        parts += [_html_failure(r) for r in rows]
    config = json.dumps({"run": report.run, "config": report.config,
                         "versions": report.versions}, indent=2, ensure_ascii=False)  # fmt: skip
    parts += ["<h2>Config and versions</h2>",
              f"<details><summary>show</summary><pre>{_e(config)}</pre></details>",
              "</body></html>", ""]  # fmt: skip
    return "\n".join(parts)


def _html_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str]
) -> str:
    """A table from already-escaped cells."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{c}">{cell}</td>' if c else f"<td>{cell}</td>"
                         for cell, c in zip(row, classes, strict=True)) + "</tr>"
        for row in rows
    )  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _tag(outcome: str) -> str:
    color = _COLORS.get(outcome, "#616161")
    return f'<span class="tag" style="background:{color}">{_e(outcome.replace("_", " "))}</span>'


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")  # fmt: skip


def _html_failure(r: dict[str, Any]) -> str:
    gold = "; ".join(r["answers"]) or "(unanswerable)"
    answer = r["answer"] or r.get("error") or "(empty)"
    reason = f" <em>({_e(r['abstain_reason'])})</em>" if r["abstain_reason"] else ""
    evidence = "; ".join(_e(t or d) for t, d in zip(r["evidence_titles"], r["evidence_doc_ids"],
                                                   strict=True)) or "–"  # fmt: skip
    retrieved = "".join(
        f"<li>{_e(title)}{' <span class=good>✓ gold</span>' if good else ''}</li>"
        for title, good in _retrieved(r)
    )
    return (
        f'<div class="failure" style="border-left-color:{_COLORS.get(r["outcome"], "#c62828")}">'
        f'<div class="q">{_e(r["question"])}</div>'
        f"<dl><dt>id · type</dt><dd>{_e(r['id'])} · {_e(r['question_type'])} · "
        f"asked as of {_e(r['question_date'] or '–')}</dd>"
        f"<dt>gold answer</dt><dd>{_e(gold)}</dd>"
        f"<dt>our answer</dt><dd>{_e(answer)}{reason}</dd>"
        f"<dt>gold articles</dt><dd>{evidence}</dd>"
        f"<dt>retrieved</dt><dd>{f'<ol>{retrieved}</ol>' if retrieved else 'nothing'}</dd>"
        "</dl></div>"
    )


# ---- comparison ------------------------------------------------------------------------------


def comparison_markdown(cmp: Comparison) -> str:
    """``rag eval compare`` as markdown (also what it prints)."""
    marks = {"regressed": "▼ regressed", "improved": "▲ improved", "same": "", "n/a": ""}
    out = [f"# Compare: {md_escape(cmp.b.name)} vs {md_escape(cmp.a.name)} (baseline)", ""]
    for label, run in (("A", cmp.run_a), ("B", cmp.run_b)):
        out.append(f"- {label}: {md_escape(cmp.a if label == 'A' else cmp.b)} · "
                   f"{run.get('completed', '?')} questions · mode {run.get('mode', '?')} · "
                   f"k={run.get('k', '?')} · {md_escape(run.get('started', '?'))}")  # fmt: skip
    out += [f"- **note**: {md_escape(note)}" for note in cmp.notes]
    regressions = cmp.regressions
    out += ["", f"**{len(regressions)} regression(s)**"
            + (": " + ", ".join(METRICS[d.name].label for d in regressions) if regressions
               else ""), "", "## Metrics", ""]  # fmt: skip
    out += _md_table(
        ["metric", "A", "B", "Δ", ""],
        [(METRICS[d.name].label, fmt(d.name, d.a), fmt(d.name, d.b), _delta(d.name, d.delta),
          marks[d.status]) for d in cmp.overall if d.status != "n/a"],
    )  # fmt: skip
    moved = {t: [d for d in ds if d.status in ("regressed", "improved")]
             for t, ds in cmp.by_type.items()}  # fmt: skip
    if any(moved.values()):
        out += ["", "## By question type (changed metrics)", ""]
        out += _md_table(
            ["type", "metric", "A", "B", "Δ", ""],
            [(md_escape(t), METRICS[d.name].label, fmt(d.name, d.a), fmt(d.name, d.b),
              _delta(d.name, d.delta), marks[d.status]) for t, ds in moved.items() for d in ds],
        )  # fmt: skip
    out += ["", f"## Questions whose correctness changed ({len(cmp.changed)})", ""]
    if cmp.changed:
        out += _md_table(
            ["", "id", "type", "A", "B", "question", "A answer", "B answer"],
            [("fixed" if c.fixed else "**broken**", md_escape(c.id), md_escape(c.question_type),
              c.outcome_a.replace("_", " "), c.outcome_b.replace("_", " "),
              md_escape(_short(c.question)), md_escape(_short(c.answer_a)),
              md_escape(_short(c.answer_b))) for c in cmp.changed],
        )  # fmt: skip
    else:
        out.append("None.")
    if cmp.config_changes:
        out += ["", "## Config differences", ""]
        out += _md_table(["key", "A", "B"], [(md_escape(k), md_escape(json.dumps(a)),
                                              md_escape(json.dumps(b)))
                                             for k, a, b in cmp.config_changes])  # fmt: skip
    return "\n".join(out) + "\n"


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


def text_summary(report: EvalReport) -> str:
    """A few plain-text lines for the terminal: the headline metrics and outcome counts."""
    rows = _headline_rows(report)
    width = max((len(label) for label, *_ in rows), default=0)
    lines = [_summary(report), ""]
    lines += [f"  {label:<{width}}  {value:>9}  (n={n})" for label, value, n, _ in rows]
    counts = report.outcomes.get("all", {})
    lines += ["", "  " + ", ".join(f"{name.replace('_', ' ')} {c}"
                                   for name, c in counts.items() if c)]  # fmt: skip
    return "\n".join(lines)
