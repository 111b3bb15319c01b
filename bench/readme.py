"""The figures of README.md and docs/*.md, rendered from the result files in bench/results.

    python bench/readme.py           # rewrite every figure block from bench/results/*.json
    python bench/readme.py --check   # exit 1 when a block differs from what its files say

A block is the text between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->``;
``BLOCKS`` maps each NAME to the function that renders it. Every figure shown comes from a
result file written by a script in bench/, each table shows the target next to each
figure with ✔ (met) or ✘ (missed), and a provenance line names the file, the command, the
date, the commit and the machine it records. A missing file renders as "not measured yet",
never as an error: the block says which script to run. Nothing here loads a model.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
DOCUMENTS = ("README.md", "docs/*.md")
_BLOCK = re.compile(
    r"(?P<open><!-- figures:(?P<name>[\w-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- /figures:(?P=name) -->)",
    re.S,
)
_OPEN = re.compile(r"<!-- figures:([\w-]+) -->")
MET, MISSED = "✔", "✘"


# ---- reading result files ------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One ``bench/results/<name>.json`` (or its absence)."""

    name: str
    data: dict[str, Any] | None

    @property
    def results(self) -> dict[str, Any]:
        """Its ``results`` (empty when the file is missing)."""
        return (self.data or {}).get("results") or {}

    @property
    def config(self) -> dict[str, Any]:
        """Its ``config`` (empty when the file is missing)."""
        return (self.data or {}).get("config") or {}


class Results:
    """The result files of one folder, read once each."""

    def __init__(self, folder: Path = RESULTS) -> None:
        """Read from ``folder`` (``bench/results`` by default)."""
        self.folder = folder
        self._cache: dict[str, Result] = {}

    def __getitem__(self, name: str) -> Result:
        if name not in self._cache:
            path = self.folder / f"{name}.json"
            data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
            self._cache[name] = Result(name, data)
        return self._cache[name]


SCRIPTS = {
    "ingest": "bench/ingest.py",
    "retrieval": "bench/retrieval.py",
    "retrieval_quality": "bench/retrieval_quality.py",
    "answer": "bench/answer.py",
    "footprint": "bench/footprint.py",
    "llama_build": "bench/llama_build.py",
    "quality": "bench/quality.py",
    "injection": "bench/injection.py",
    "rules": "bench/rules.py",
    "rules_answers": "bench/rules.py --rules answer_check,retry,look_further --name rules_answers",
    "rules_subject_link": "bench/rules.py --rules subject_link --name rules_subject_link",
    "rules_subject_link_withheld": (
        "bench/rules.py --rules subject_link --withhold-gold --name rules_subject_link_withheld"
    ),
    "dev_choice": "bench/dev_eval.py --mode choice",
    "dev_open": "bench/dev_eval.py --mode open",
    "news_eval": "bench/news_eval.py",
}


def provenance(result: Result, link: Callable[[str], str]) -> str:
    """One line: the file, its command, date, commit and machine."""
    data = result.data or {}
    m = data.get("machine") or {}
    cores = m.get("physical_cores") or m.get("logical_cpus")
    machine = f"{m.get('cpu_model') or 'CPU not recorded'}, {cores} cores"
    if m.get("ram_gb"):
        machine += f", {m['ram_gb']:g} GB RAM"
    if m.get("load_average"):
        machine += f", load {m['load_average'][0]:.1f}"
    command = data.get("command")
    command = f"`{_command(command)}`" if command else "command not recorded"
    commit = data.get("commit")
    commit = f"commit {commit}" if commit else "commit not recorded"
    created = str(data.get("created") or "date not recorded")[:10]
    file = f"bench/results/{result.name}.json"
    return f"[`{file}`]({link(file)}): {command}, {created}, {commit}, {machine}."


def _command(command: str) -> str:
    """The recorded command with the repository's path made relative."""
    return command.replace(str(ROOT) + os.sep, "")


def not_measured(name: str) -> str:
    """What a block says for a result file that does not exist."""
    return f"*Not measured yet: `python {SCRIPTS[name]}` writes `bench/results/{name}.json`.*"


def mark(met: bool | None) -> str:
    """✔, ✘, or nothing when there is no figure to judge."""
    return "" if met is None else (MET if met else MISSED)


def _table(headers: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _sources(results: Iterable[Result], link: Callable[[str], str]) -> str:
    lines = []
    for r in results:
        if r.data is None:
            lines.append(
                f"- `bench/results/{r.name}.json`: not measured yet (`python {SCRIPTS[r.name]}`)."
            )
        else:
            lines.append("- " + provenance(r, link))
    return "Measured by:\n\n" + "\n".join(lines)


# ---- the blocks ----------------------------------------------------------------------------


def performance(res: Results, link: Callable[[str], str]) -> str:
    """README, Performance: every speed and footprint target."""
    rows: list[list[str]] = []
    ingest, retrieval, answer = res["ingest"], res["retrieval"], res["answer"]
    footprint, hit = res["footprint"], res["retrieval_quality"]

    def row(what: str, target: str, measured: str, met: bool | None) -> None:
        rows.append([what, target, measured, mark(met)])

    def missing(what: str) -> None:
        row(what, "–", "not measured yet", None)

    what = "ingest: `Assistant.ingest` vs the embedding model alone on the same texts"
    if (t := ingest.results.get("target")) is not None:
        corpus, r = ingest.results["corpus"], ingest.results
        row(
            f"{what} ({corpus['articles']:,} articles, {corpus['chunks']:,} chunks)",
            f"≥ {t['target']:g} ×",
            f"**{t['measured']:.2f} ×** ({r['ingest']['chunks_per_s']:.1f} vs "
            f"{r['limit']['chunks_per_s']:.1f} chunks/s)",
            t["met"],
        )
    else:
        missing(what)
    sizes = {s["size"]: s for s in retrieval.results.get("sizes", [])}
    targets = retrieval.results.get("targets") or {}
    for size, t in sorted(((int(k), v) for k, v in targets.items() if k.isdigit())):
        p95 = sizes[size]["latency_ms"]["p95"]
        row(
            f"hybrid retrieval p50 at {size:,} chunks",
            f"≤ {t['target']:g} ms",
            f"**{t['measured']:.1f} ms** (p95 {p95:.0f} ms)",
            t["met"],
        )
    if not targets:
        missing("hybrid retrieval p50 at 10,000 and 100,000 chunks")
    what = "retrieval hit@4 on dev (first 4 articles), ours vs naive dense top-4"
    if hit.data is not None and "ours" in hit.results:
        r = hit.results
        t = r["target"]
        row(
            what,
            f"≥ {t['target']:g}",
            f"**{r['ours']['all']['hit_at_4']:.3f}** (naive {r['naive']['all']['hit_at_4']:.3f}; "
            f"{r['questions']} questions)",
            t["met"],
        )
    else:
        missing(what)
    what = "time to first token p50, {arm} / naive tutorial pipeline, side by side"
    if answer.data is not None:
        r = answer.results
        for arm, t in (r.get("targets") or {}).items():
            target = t["ttft_p50_ratio"]["target"]
            # TTFT p50 over the questions where the model was called (rag.eval's definition;
            # files before it took the ratio over every question, counting a refusal's time).
            ours, naive = (r[a]["ttft_s_llm_called"].get("p50") for a in (arm, "naive"))
            if ours is None or not naive:
                missing(what.format(arm=arm) + " (the model was never called)")
                continue
            tokens = "evaluated prompt tokens p50 {} vs {}".format(
                *(f"{r[a]['evaluated_prompt_tokens'].get('p50', 0):.0f}" for a in (arm, "naive"))
            )
            row(
                what.format(arm=arm) + f" ({r['questions']} questions, model called)",
                f"≤ {target:g} ×",
                f"**{ours / naive:.2f} ×** ({ours:.2f} s vs {naive:.2f} s; {tokens})",
                ours / naive <= target,
            )
    else:
        missing(what.format(arm="ours"))
    t = (footprint.results.get("targets") or {}).get("ready_s")
    if t is not None:
        serve = footprint.results["serve"]
        first = serve.get("first_answer_s_from_spawn")
        after = f" (first answer {first:.1f} s after spawn)" if first else ""
        row(
            "`rag serve` cold start to ready",
            f"≤ {t['target']:g} s",
            f"**{t['measured']:.1f} s**{after}",
            t["met"],
        )
        t = footprint.results["targets"]["peak_rss_mb"]
        row(
            "peak RSS with every model loaded, after an answer",
            f"≤ {t['target'] / 1024:.1f} GB",
            f"**{t['measured'] / 1024:.1f} GB**",
            t["met"],
        )
    else:
        missing("`rag serve` cold start and peak RSS")
    table = _table(["benchmark", "target", "measured", ""], rows)
    return table + "\n\n" + _sources([ingest, retrieval, hit, answer, footprint], link)


def sizing(res: Results, link: Callable[[str], str]) -> str:
    """README, Sizing a deployment: store size and latency by store size."""
    retrieval, ingest = res["retrieval"], res["ingest"]
    if retrieval.data is None:
        return not_measured("retrieval")
    rows = []
    for s in retrieval.results["sizes"]:
        per_gb = s["size"] / (s["store_mb"] / 1000) if s["store_mb"] else float("nan")
        rows.append(
            [
                f"{s['size']:,}",
                f"{s['store_mb']:,.0f} MB",
                f"{per_gb:,.0f}",
                f"{s['latency_ms']['p50']:.1f} ms",
                f"{s['latency_ms']['p95']:.1f} ms",
            ]
        )
    table = _table(["chunks", "store on disk", "chunks per GB", "p50", "p95"], rows)
    text = table
    corpus = ingest.results.get("corpus")
    if corpus:
        text += (
            f"\n\nThe dev corpus has {corpus['chunks'] / corpus['articles']:.1f} chunks per "
            f"article ({corpus['articles']:,} articles, {corpus['chunks']:,} chunks)."
        )
    sources = [retrieval] + ([ingest] if corpus else [])
    return text + "\n\n" + _sources(sources, link)


def alternatives(res: Results, link: Callable[[str], str]) -> str:
    """README, Performance: the embedding backends tried against torch, side by side."""
    ingest = res["ingest"]
    found = ingest.results.get("alternatives")
    if not found:
        return not_measured("ingest")
    rows = [
        [
            f"`{name}`",
            f"{a['speedup']:.2f} ×" if a.get("speedup") is not None else "–",
            "kept" if a.get("kept") else f"not kept: {a.get('why_not') or ''}",
        ]
        for name, a in found.items()
    ]
    table = _table(["embedding backend", "chunks/s vs torch, side by side", ""], rows)
    return table + "\n\n" + _sources([ingest], link)


def llama_build(res: Results, link: Callable[[str], str]) -> str:
    """README, Performance: prompt speed of llama.cpp builds (bench/llama_build.py)."""
    r = res["llama_build"]
    if r.data is None:
        return not_measured("llama_build")
    rows = []
    for name, arm in r.results.items():
        speed = arm.get("crashed") or arm.get("failed")
        rows.append(
            [
                f"`{name}`",
                str(speed) if speed else f"{arm['prompt_tokens_per_s']:.0f}",
                "–" if speed else f"{arm.get('prompt_tokens_per_cpu_s') or 0:.0f}",
                str(arm.get("amx_instructions")),
                "yes" if arm.get("repacked_buffers") else "no",
            ]
        )
    headers = ["build", "prompt tokens/s (or crash)", "per CPU-second", "AMX instructions"]
    table = _table([*headers, "repacked weights"], rows)
    return table + "\n\nA comparison, no target.\n\n" + _sources([r], link)


QUALITY_ROWS: tuple[tuple[str, str], ...] = (
    ("hit@4", "gold article among the first 4 articles retrieved"),
    ("contains_gold", "answer contains a gold answer (strict)"),
    ("normalized_match", "answer matches a gold answer (normalised)"),
    ("evidence_in_context", "gold article in the model's context"),
    ("all_citations_gold", "cited answers whose every citation is gold"),
    ("abstention_unanswerable", "unanswerable questions refused"),
    ("false_abstention", "answerable questions refused"),
    ("ttft_p50_s", "time to first token p50 (model called)"),
    ("ttft_ratio", "time to first token p50 / naive's, same run"),
)
_COUNTS = {
    "abstention_unanswerable": ("refused_unanswerable", "n_unanswerable"),
    "false_abstention": ("refused_answerable", "n_answerable"),
    "all_citations_gold": (None, "n_cited_answers"),
}


def _quality(res: Results) -> Result | None:
    r = res["quality"]
    return r if r.data is not None and "arms" in r.results else None


def _cell(r: dict[str, Any], arm: str, half: str, metric: str) -> str:
    """One figure of quality.json with its ✔/✘ (and its count, for rates of few)."""
    if metric == "ttft_ratio":
        value = r["ttft_ratio"].get(arm, {}).get(half)
    else:
        value = r["arms"][arm]["figures"][half].get(metric)
    if value is None:
        return "–"
    f = r["arms"][arm]["figures"][half]
    if metric == "ttft_p50_s":
        text = f"{value:.2f} s"
    elif metric == "ttft_ratio":
        text = f"{value:.2f} ×"
    else:
        text = f"{value:.3f}"
    if metric in _COUNTS:
        part, whole = _COUNTS[metric]
        text += f" ({f[part]}/{f[whole]})" if part else f" (of {f[whole]})"
    check = r["checks"].get(arm, {}).get(half, {}).get(metric)
    return f"{text} {mark(check['met'])}" if check else text


def _target(r: dict[str, Any], metric: str) -> str:
    t = r["targets"].get(metric)
    if not t:
        return "–"
    unit = " ×" if metric == "ttft_ratio" else ""
    text = f"{'≥' if t['op'] == '>=' else '≤'} {t['value']:g}{unit}"
    return text + (f" ({t['note']})" if t.get("note") else "")


def quality(res: Results, link: Callable[[str], str]) -> str:
    """README, Evaluation: ours and naive by half, further arms, every target."""
    q = _quality(res)
    if q is None:
        return not_measured("quality")
    r = q.results
    halves = ("tuning", "check", "all")
    arms = [a for a in r["arms"] if a not in ("ours", "naive")]
    n = {h: r["arms"]["ours"]["figures"][h]["n"] for h in halves}
    headers = ["metric", "target"]
    headers += [f"ours, {h} ({n[h]})" for h in halves]
    headers += [f"naive, {h}" for h in halves]
    rows = []
    for metric, label in QUALITY_ROWS:
        row = [label, _target(r, metric)]
        row += [_cell(r, "ours", h, metric) for h in halves]
        row += ["–" if metric == "ttft_ratio" else _cell(r, "naive", h, metric) for h in halves]
        rows.append(row)
    text = _table(headers, rows)
    if arms:
        rows = []
        for metric, label in QUALITY_ROWS:
            row = [label, _target(r, metric)]
            row += [_cell(r, a, h, metric) for a in ("ours", *arms) for h in halves]
            rows.append(row)
        configs = ", ".join(f"`{a}`: `{q.config['arms'][a]['file']}`" for a in arms)
        headers = ["metric", "target"]
        headers += [f"{a}, {h}" for a in ("ours", *arms) for h in halves]
        text += f"\n\nFurther configurations ({configs}), same run:\n\n" + _table(headers, rows)
    types = r["arms"]["ours"].get("by_type") or {}
    shown = [
        f"{kind} {t['correct']} of {t['n']}"
        for kind, t in types.items()
        if kind not in ("unanswerable", "withheld")
    ]
    if shown:
        text += "\n\nOurs, answers containing a gold answer by question type: " + ", ".join(shown)
        text += "."
    if r.get("partial"):
        text += (
            f"\n\n**A partial run** (`--limit`, {r['questions']} questions and a cut corpus): "
            "not the dev-set figures."
        )
    return text + "\n\n" + _sources([q], link)


def withheld(res: Results, link: Callable[[str], str]) -> str:
    """README, Evaluation: refusals when the gold articles are withheld (``--withhold-gold``)."""
    q = _quality(res)
    if q is None:
        return not_measured("quality")
    w = q.results.get("withheld")
    if not w:
        return "*Not measured yet: `python bench/quality.py --withhold-gold` measures it.*"
    rows = []
    halves = ("tuning", "check", "all")
    kinds = sorted({k for h in halves for k in w["refusals"][h]})
    for h in halves:
        f = w["figures"][h]
        rate = f["abstention_unanswerable"]
        cells = [h, f"{f['refused_unanswerable']} of {f['n']}"]
        cells.append("–" if rate is None else f"{rate:.3f}")
        cells += [str(w["refusals"][h].get(k, 0)) for k in kinds]
        rows.append(cells)
    table = _table(["half", "refused", "rate", *kinds], rows)
    return table + "\n\n" + _sources([q], link)


def halves(res: Results, link: Callable[[str], str]) -> str:
    """docs/evaluation.md: how the dev set splits into halves."""
    q = _quality(res)
    if q is None:
        return not_measured("quality")
    h = q.results["halves"]
    counts = h["gold_set"]
    dates = h.get("dates")
    span = f", {dates[0]} to {dates[1]}" if dates else ""
    return (
        f"On the dev set ({counts['tuning'] + counts['check']} questions{span}) the split date "
        f"is {h['split_date']}: {counts['tuning']} tuning and {counts['check']} check "
        "questions.\n\n" + _sources([q], link)
    )


def eval_time(res: Results, link: Callable[[str], str]) -> str:
    """docs/evaluation.md: how long a question takes."""
    q = _quality(res)
    if q is None:
        return not_measured("quality")
    f = q.results["arms"]["ours"]["figures"]["all"]
    return (
        f"In the last `bench/quality.py` run a question took {f['latency_p50_s']:.1f} s "
        f"(p50, first token after {f['ttft_p50_s']:.1f} s) with the default configuration, "
        f"on the machine below.\n\n" + _sources([q], link)
    )


def injection(res: Results, link: Callable[[str], str]) -> str:
    """README, Security: injected instructions that reach the prompt and what the user sees.

    ``injection-before`` and ``injection-prompt-before`` are the same bench run on the
    detector this one replaced, when they exist.
    """
    names = ["injection", "injection-prompt", "injection-before", "injection-prompt-before"]
    found = [res[n] for n in names if res[n].data is not None]
    if not found:
        return not_measured("injection")
    rows = []
    for r in found:
        t = r.results["totals"]
        reached = "–" if t.get("reached") is None else f"{t['reached']} of {t['articles']}"
        arm = "before" if r.name.endswith("before") else "now"
        model = "no (prompt only)" if t.get("reached") is None else "the real model"
        rows.append(
            [arm, model, f"{t['in_prompt']} of {t['articles']}", reached, f"{t['planned']}"]
        )
    table = _table(["detector", "model", "canary in the prompt", "canary or link in what the "
                    "user sees", "articles in the suite"], rows)  # fmt: skip
    return table + "\n\n" + _sources(found, link)


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def rules(res: Results, link: Callable[[str], str], name: str = "rules") -> str:
    """docs/evaluation.md: each fitted rule as now, off and at other values; keep or drop."""
    r = res[name]
    if r.data is None or "rules" not in r.results:
        return not_measured(name)
    data = r.results
    halves = ("tuning", "check")
    # The questions asked per half (with --withhold-gold, only the answerable ones).
    first = next(iter(next(iter(data["rules"].values()))["arms"].values()))
    n = {h: first["halves"][h].get("n", data["halves"].get(h)) for h in halves}
    headers = ["rule", "arm"]
    for h in halves:
        headers += [
            f"{h} ({n[h]}): right",
            "contains gold (strict / normalised)",
            "answerable refused",
            "unanswerable refused",
            "all citations gold",
        ]
    headers.append("verdict")
    rows = []
    for name, rule in data["rules"].items():
        for arm, a in rule["arms"].items():
            row = [f"`{name}`" if arm == "now" else "", arm]
            for h in halves:
                f = a["halves"][h]
                row += [
                    str(f["right"]),
                    f"{_rate(f['contains_gold'])} / {_rate(f['normalized_match'])}",
                    _rate(f["false_abstention"]),
                    _rate(f["abstention_unanswerable"]),
                    _rate(f["all_citations_gold"]),
                ]
            verdict = ""
            if arm == "now":
                verdict = f"**{rule['verdict']}**"
                if rule.get("replace_with"):
                    verdict += f" (→ {rule['replace_with']})"
            row.append(verdict)
            rows.append(row)
    text = _table(headers, rows)
    if data.get("withhold_gold"):
        text += (
            "\n\nAsked with the gold articles withheld (`--withhold-gold`): every question is "
            "one to refuse, so right = refused."
        )
    text += f"\n\nVerdict rule: {data['judged_by']}."
    if data.get("limit"):
        text += "\n\n**A partial run** (`--limit`): not the dev-set verdicts."
    elif data.get("partial"):
        text += "\n\nOnly the rules listed were run (`--rules`), at the commit below."
    return text + "\n\n" + _sources([r], link)


def dev_eval(res: Results, link: Callable[[str], str], mode: str = "choice") -> str:
    """README and docs/evaluation.md: the dev set through ``rag eval`` by half, in one mode."""
    r = res[f"dev_{mode}"]
    if r.data is None:
        return not_measured(f"dev_{mode}")
    data = r.results
    answer = "options picked right" if mode == "choice" else "contains gold (strict / normalised)"
    headers = ["half", "questions", answer, "answerable refused", "unanswerable refused"]
    headers += ["all citations gold", "asked twice"]
    rows = []
    for half in ("tuning", "check", "all"):
        f = data["halves"][half]
        picked = _rate(f["choice_accuracy"])
        matched = f"{_rate(f['contains_gold'])} / {_rate(f['normalized_match'])}"
        rows.append([
            half,
            f"{f['n']} ({f['n_unanswerable']} unanswerable)",
            picked if mode == "choice" else matched,
            _rate(f["false_abstention"]),
            _rate(f["abstention_unanswerable"]),
            _rate(f["all_citations_gold"]),
            _rate(f["retried"]),
        ])  # fmt: skip
    text = _table(headers, rows)
    if data.get("partial"):
        text += "\n\n**A partial run** (`--limit`): not the dev-set figures."
    if calls := data.get("llm_calls"):
        text += (
            f"\n\nModel answers replayed from the response cache: {calls['replayed']}, new: "
            f"{calls['new']} (timings are left out)."
        )
    return text + "\n\n" + _sources([r], link)


def _right(c: dict[str, Any], name: str) -> str:
    """``k/n`` answers right, strict, and the normalised count when it differs."""
    n = c["items"]
    strict, normalised = c[f"{name}_strict"], c.get(f"{name}_normalized")
    if normalised is None or normalised == strict:
        return f"{strict}/{n}"
    return f"{strict}/{n} (normalised {normalised}/{n})"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def news_eval(res: Results, link: Callable[[str], str]) -> str:
    """docs/evaluation.md: ``rag eval news`` on the project's gold file, with the real model."""
    r = res["news_eval"]
    if r.data is None or "scores" not in r.results:
        return not_measured("news_eval")
    data = r.results
    headers = [
        "split",
        "timeline recall / precision / order / exact / empty",
        "changes before right",
        "after right",
        "changed right",
        "dates right",
        "freshness precision / recall",
    ]
    rows = []
    for split, s in data["scores"].items():
        row = [split]
        t = s.get("timeline")
        if t:
            rates = ("recall", "precision", "order_accuracy", "quote_exactness", "empty_correct")
            row.append(
                " / ".join(_rate(t[m]) for m in rates)
                + f" ({t['items']} items, {t['expected']} events, {t['pairs']} pairs)"
            )
        else:
            row.append("–")
        c = s.get("changes")
        if c:
            row += [
                _right(c, "before"),
                _right(c, "after"),
                f"{c['changed_right']}/{c['items']}",
                f"{c['dates_right']}/{c['dated']}",
            ]
        else:
            row += ["–"] * 4
        f = s.get("freshness")
        if f:
            missed = f", {f['premise_missed']} premise missed" if f["premise_missed"] else ""
            row.append(
                f"{_rate(f['precision'])} / {_rate(f['recall'])} "
                f"({f['items']} items: tp {f['tp']}, fp {f['fp']}, fn {f['fn']}, tn {f['tn']}"
                f"{missed})"
            )
        else:
            row.append("–")
        rows.append(row)
    text = _table(headers, rows)
    wrong = ", ".join(f"`{i}`" for i in data.get("wrong") or []) or "none"
    kinds = r.config.get("kinds")
    text += (
        f"\n\nModel `{data['model']}`, `{r.config.get('config')}`; "
        f"{data['counts']['all']['items']} items "
        + (f"(kinds {', '.join(kinds)}) " if kinds else "")
        + f"in {_duration(data['seconds'])}. Items with a miss: {wrong}."
    )
    return text + "\n\n" + _sources([r], link)


BLOCKS: dict[str, Callable[[Results, Callable[[str], str]], str]] = {
    "injection": injection,
    "performance": performance,
    "sizing": sizing,
    "alternatives": alternatives,
    "llama_build": llama_build,
    "quality": quality,
    "withheld": withheld,
    "halves": halves,
    "eval_time": eval_time,
    "rules": rules,
    "rules_answers": functools.partial(rules, name="rules_answers"),
    "rules_subject_link": functools.partial(rules, name="rules_subject_link"),
    "rules_subject_link_withheld": functools.partial(rules, name="rules_subject_link_withheld"),
    "dev_choice": functools.partial(dev_eval, mode="choice"),
    "dev_open": functools.partial(dev_eval, mode="open"),
    "news_eval": news_eval,
}


# ---- rewriting and checking the documents ------------------------------------------------------


def documents(root: Path = ROOT) -> list[Path]:
    """README.md and docs/*.md."""
    found: list[Path] = []
    for pattern in DOCUMENTS:
        found += sorted(root.glob(pattern))
    return found


def render(text: str, doc: Path, res: Results, root: Path = ROOT) -> tuple[str, list[str]]:
    """``text`` with every figure block rendered afresh, and the names of those that changed."""
    names = _OPEN.findall(text)
    unknown = sorted(set(names) - BLOCKS.keys())
    if unknown:
        raise SystemExit(f"{doc}: unknown figure block(s) {', '.join(unknown)}")
    if len(list(_BLOCK.finditer(text))) != len(names):
        raise SystemExit(f"{doc}: a figure block is not closed (<!-- /figures:NAME -->)")
    changed: list[str] = []

    def link(file: str) -> str:
        return os.path.relpath(root / file, doc.parent)

    def block(m: re.Match[str]) -> str:
        body = BLOCKS[m.group("name")](res, link).strip() + "\n"
        if body != m.group("body"):
            changed.append(m.group("name"))
        return f"{m.group('open')}{body}{m.group('close')}"

    return _BLOCK.sub(block, text), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Exit 1 if a block is stale.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="The result files.")
    parser.add_argument("--root", type=Path, default=ROOT, help="Where README.md and docs/ are.")
    args = parser.parse_args(argv)
    res = Results(args.results)
    stale = []
    for doc in documents(args.root):
        text = doc.read_text(encoding="utf-8")
        fresh, changed = render(text, doc, res, args.root)
        if not changed:
            continue
        where = doc.relative_to(args.root)
        if args.check:
            stale.append(f"{where}: {', '.join(changed)}")
        else:
            doc.write_text(fresh, encoding="utf-8")
            print(f"rewrote {where}")
    missing = [name for name in SCRIPTS if res[name].data is None]
    if missing:
        print("not measured yet (rendered as such): " + ", ".join(f"{m}.json" for m in missing))
    if stale:
        print(
            "figure blocks differ from bench/results (run python bench/readme.py):\n  "
            + "\n  ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
