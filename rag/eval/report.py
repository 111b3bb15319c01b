"""``EvalReport`` -> ``report.md`` and a self-contained ``report.html``.

Both reports are built from the same tables (``_tables``), rendered twice. The HTML opens
offline: styles are inline and the figures (``rag.eval.figures``) are base64 data URIs.
Every piece of text that comes from a gold set, an article or the model is escaped (it is
untrusted).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rag.eval.figures as figs
from rag.eval.gold import HALVES
from rag.eval.metrics import METRICS
from rag.eval.results import EvalReport
from rag.eval.score import OUTCOMES, Prediction

HEADLINE = tuple(
    "accuracy hit@1 hit@5 hit@10 mrr lenient_hit@5 evidence_retrieved evidence_in_context "
    "answer_retrieved answer_in_context contains_gold normalized_match token_recall "
    "choice_accuracy citation_precision all_citations_gold citations_supported "
    "abstention_unanswerable false_abstention latency_p50_s latency_p95_s ttft_p50_s "
    "ttft_p95_s".split()
)
BY_TYPE = tuple(
    "accuracy hit@1 hit@5 mrr evidence_in_context contains_gold normalized_match "
    "choice_accuracy citation_precision false_abstention abstention_unanswerable "
    "latency_p50_s".split()
)
FAILURES_PER_CLASS = 10


def write(report: EvalReport, out: Path) -> list[Path]:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` into ``out``."""
    figures = figs.draw(report)
    written = []
    if figures:
        (out / "figures").mkdir(parents=True, exist_ok=True)
    for name, png in figures.items():
        path = out / "figures" / f"{name}.png"
        path.write_bytes(png)
        written.append(path)
    md, page = out / "report.md", out / "report.html"
    md.write_text(markdown(report, {n: f"figures/{n}.png" for n in figures}), encoding="utf-8")
    page.write_text(to_html(report, figures), encoding="utf-8")
    return [md, page, *written]


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


# ---- the tables both reports show ----------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """A table of plain-text cells; ``numeric`` marks right-aligned columns."""

    title: str
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    note: str = ""
    outcome_column: bool = False  # the first column names outcomes (coloured in HTML)


def _tables(report: EvalReport) -> list[_Table]:
    tables = [_headline(report)]
    counts = report.outcomes.get("all", {})
    tables.append(
        _Table(
            "Outcomes",
            ["outcome", "questions", "meaning"],
            [[name, str(counts.get(name, 0)), text] for name, text in OUTCOMES.items()],
            [False, True, False],
            outcome_column=True,
        )
    )
    if halves := _halves(report):
        tables.append(halves)
    columns = [m for m in BY_TYPE if any(t.get(m) is not None for t in report.by_type.values())]
    tables.append(
        _Table(
            "By question type",
            ["type", "n", *(METRICS[c].label for c in columns)],
            [
                [t, str(m["n"]), *(fmt(c, m.get(c)) for c in columns)]
                for t, m in report.by_type.items()
            ],
            [False, True, *(True for _ in columns)],
        )
    )
    return tables


def _headline(report: EvalReport) -> _Table:
    rows = []
    for name in HEADLINE:
        value = report.metrics.get(name)
        if value is not None:
            info = METRICS[name]
            rows.append(
                [info.label, fmt(name, value), str(report.metrics.get(info.of, "")), info.help]
            )
    if report.ingest:
        ingest = report.ingest
        rows.append(
            [
                "ingest time",
                f"{ingest['seconds']:.1f} s",
                str(ingest["articles"]),
                f"{ingest['chunks']} chunks written into a fresh store",
            ]
        )
    return _Table("Headline", ["metric", "value", "n", "meaning"], rows, [False, True, True, False])


def _halves(report: EvalReport) -> _Table | None:
    """Every headline metric on the tuning and the check half, side by side."""
    halves = [h for h in HALVES if h in report.by_half]
    if not halves:
        return None
    split = report.run.get("halves") or {}
    rows = [
        [METRICS[name].label, *(fmt(name, report.by_half[h].get(name)) for h in halves)]
        for name in HEADLINE
        if any(report.by_half[h].get(name) is not None for h in halves)
    ]
    note = f"{split.get('rule', '')} (split date {split.get('split_date', '?')})."
    header = ["metric", *(f"{h} (n={report.by_half[h]['n']})" for h in halves)]
    return _Table("By half", header, rows, [False, *(True for _ in halves)], note=note)


def _summary(report: EvalReport) -> str:
    run = report.run
    parts = [
        f"{run.get('completed', len(report.predictions))} of {run.get('n_questions', '?')} "
        "questions",
        f"mode {run.get('mode', 'open')}",
        f"k={run.get('k', '?')}",
        f"model {Path(str(run.get('model', '?'))).name}",
        f"started {run.get('started', '?')}",
        f"took {run.get('duration_s', 0):.0f} s",
    ]
    if run.get("half"):
        parts.insert(1, f"{run['half']} half only")
    if run.get("interrupted"):
        parts.append(f"STOPPED EARLY ({run.get('stopped_by')})")
    return " · ".join(parts)


def _failures_by_class(report: EvalReport) -> dict[str, list[Prediction]]:
    grouped: dict[str, list[Prediction]] = {}
    for p in report.failures():
        shown = grouped.setdefault(p.outcome, [])
        if len(shown) < FAILURES_PER_CLASS:
            shown.append(p)
    return grouped


def _outcome_name(outcome: str) -> str:
    return outcome.replace("_", " ")


def _failure_fields(p: Prediction) -> list[tuple[str, str]]:
    """(label, plain text) lines describing one failed question."""
    answer = p.answer or p.error or "(empty)"
    if p.abstain_reason:
        answer += f" ({p.abstain_reason})"
    if p.normalized_match:
        answer += " [matches gold once numbers, countries and plurals are normalised]"
    lines = [("gold answer", "; ".join(p.answers) or "(unanswerable)"), ("our answer", answer)]
    if p.evidence_titles:
        pairs = zip(p.evidence_titles, p.evidence_doc_ids, strict=True)
        lines.append(("gold articles", "; ".join(t or d for t, d in pairs)))
    return lines


def _articles(p: Prediction, doc_ids: Sequence[str] | None) -> list[tuple[str, bool]]:
    """(title, whether gold or answer-bearing) of these articles, in order."""
    titles = dict(zip(p.retrieved_doc_ids, p.retrieved_titles, strict=False))
    good = p.answer_docs
    return [(titles.get(d) or d, d in good) for d in doc_ids or []]


# ---- markdown ------------------------------------------------------------------------------


def md_escape(text: Any) -> str:
    """Text safe inside a markdown table cell: no HTML, no markup, one line."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    return re.sub(r"([\\`*_\[\]|#~])", r"\\\1", text)


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a markdown table (cells already escaped)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(report: EvalReport, figure_paths: dict[str, str]) -> str:
    """The report as markdown; figures are linked by relative path."""
    name = report.out.name if report.out else "run"
    out = [f"# Evaluation: {md_escape(name)}", "", md_escape(_summary(report))]
    for table in _tables(report):
        out += ["", f"## {table.title}", ""]
        if table.note:
            out += [md_escape(table.note), ""]
        rows = [
            [
                md_escape(_outcome_name(c) if i == 0 and table.outcome_column else c)
                for i, c in enumerate(row)
            ]
            for row in table.rows
        ]
        out += md_table([md_escape(h) for h in table.header], rows)
    for key, path in figure_paths.items():
        out += ["", f"![{figs.FIGURES[key]}]({path})"]
    if not figure_paths and (why := figs.missing()):
        out += ["", f"_{md_escape(why)}_"]
    out += ["", "## Worst failures", ""]
    failures = _failures_by_class(report)
    if not failures:
        out.append("None.")
    for outcome, shown in failures.items():
        total = report.outcomes.get("all", {}).get(outcome, len(shown))
        out += [f"### {_outcome_name(outcome)} ({total})", "", f"_{OUTCOMES[outcome]}_", ""]
        for p in shown:
            out.append(
                f"- **{md_escape(p.id)}** ({md_escape(p.question_type)}): {md_escape(p.question)}"
            )
            out += [f"  - {label}: {md_escape(text)}" for label, text in _failure_fields(p)]
            for label, doc_ids in (("retrieved", p.retrieved_doc_ids), ("read", p.context_doc_ids)):
                if doc_ids is not None:
                    listed = "; ".join(
                        f"{i}. {md_escape(title)}{' ✓' if good else ''}"
                        for i, (title, good) in enumerate(_articles(p, doc_ids), 1)
                    )
                    out.append(f"  - {label}: {listed or 'nothing'}")
        out.append("")
    config = {"run": report.run, "config": report.config, "versions": report.versions}
    out += ["", "## Config and versions", "", "```json", json.dumps(config, indent=2), "```", ""]
    return "\n".join(out)


# ---- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
.summary{color:#555}.stopped{color:#b00020;font-weight:600}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;white-space:nowrap}
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
    stopped = " stopped" if report.run.get("interrupted") else ""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary{stopped}">{_e(_summary(report))}</p>',
    ]
    for table in _tables(report):
        parts += [f"<h2>{_e(table.title)}</h2>", _html_table(table)]
        if table.title == "Outcomes" and "outcomes" in figures:
            parts.append(_figure(figures["outcomes"], figs.FIGURES["outcomes"]))
    parts += [
        _figure(figures[n], figs.FIGURES[n])
        for n in ("by_type", "hit_at_k", "latency")
        if n in figures
    ]
    if not figures and (why := figs.missing()):
        parts.append(f'<p class="summary">{_e(why)}</p>')
    parts.append("<h2>Worst failures</h2>")
    failures = _failures_by_class(report)
    if not failures:
        parts.append("<p>None.</p>")
    for outcome, shown in failures.items():
        total = report.outcomes.get("all", {}).get(outcome, len(shown))
        more = f", {len(shown)} shown" if len(shown) < total else ""
        parts.append(
            f"<h3>{_tag(outcome)} {total} question(s){_e(more)}</h3>"
            f'<p class="summary">{_e(OUTCOMES[outcome])}</p>'
        )
        parts += [_html_failure(p) for p in shown]
    config = {"run": report.run, "config": report.config, "versions": report.versions}
    parts += [
        "<h2>Config and versions</h2>",
        f"<details><summary>show</summary><pre>{_e(json.dumps(config, indent=2))}</pre></details>",
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


def _html_table(table: _Table) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        cells = [
            _tag(cell) if i == 0 and table.outcome_column else _e(cell)
            for i, cell in enumerate(row)
        ]
        body.append(
            "<tr>"
            + "".join(
                f'<td class="num">{c}</td>' if num else f"<td>{c}</td>"
                for c, num in zip(cells, table.numeric, strict=True)
            )
            + "</tr>"
        )
    note = f'<p class="summary">{_e(table.note)}</p>' if table.note else ""
    return f"{note}<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _tag(outcome: str) -> str:
    color = figs.COLORS.get(outcome, "#616161")
    return f'<span class="tag" style="background:{color}">{_e(_outcome_name(outcome))}</span>'


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _html_failure(p: Prediction) -> str:
    fields = [("id · type", f"{p.id} · {p.question_type} · asked as of {p.question_date or '–'}")]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in fields + _failure_fields(p))
    for label, doc_ids in (
        ("retrieved", p.retrieved_doc_ids),
        ("read by the model", p.context_doc_ids),
    ):
        if doc_ids is not None:
            items = "".join(
                f"<li>{_e(title)}{' <span class=good>✓ gold</span>' if good else ''}</li>"
                for title, good in _articles(p, doc_ids)
            )
            rows += f"<dt>{label}</dt><dd>{f'<ol>{items}</ol>' if items else 'nothing'}</dd>"
    color = figs.COLORS.get(p.outcome, "#c62828")
    return (
        f'<div class="failure" style="border-left-color:{color}">'
        f'<div class="q">{_e(p.question)}</div><dl>{rows}</dl></div>'
    )


# ---- terminal ---------------------------------------------------------------


def text_summary(report: EvalReport) -> str:
    """A few plain-text lines for the terminal: the headline metrics and outcome counts."""
    rows = _headline(report).rows
    width = max((len(label) for label, *_ in rows), default=0)
    lines = [_summary(report), ""]
    lines += [f"  {label:<{width}}  {value:>9}  (n={n})" for label, value, n, _ in rows]
    for half, metrics in report.by_half.items():
        shown = ", ".join(
            f"{METRICS[m].label} {fmt(m, metrics.get(m))}"
            for m in ("accuracy", "contains_gold", "normalized_match", "choice_accuracy")
            if metrics.get(m) is not None
        )
        lines.append(f"  {half} half (n={metrics['n']}): {shown}")
    counts = report.outcomes.get("all", {})
    lines += ["", "  " + ", ".join(f"{k.replace('_', ' ')} {c}" for k, c in counts.items() if c)]
    return "\n".join(lines)
