"""Rules fitted to single dev questions, re-earned: an ablation per rule, judged by halves.

    python bench/rules.py                                   # every rule, every dev question
    python bench/rules.py --rules subject_check,min_score   # only these rules
    python bench/rules.py --store DIR --llm-cache FILE      # keep the store and the answers
    python bench/rules.py --limit 3                         # a quick look (never commit it)

Several abstention and verification rules were introduced for one or two dev questions and
calibrated on the same questions they are measured on. For each rule in ``RULES`` this runs
the dev set with the rule as it is now (the ``now`` arm: the settings of ``--config``), with
it switched off (``off``) and, for a threshold, with one or two other values. Every arm is
scored by ``rag.eval.evaluate`` on both halves of the dev set (``rag.eval.split_date``):
the tuning half, on or before the median question date, and the check half after it.

The verdict of a rule, in ``verdict``:

* *better* on a half means more questions right (``rag.eval``'s ``accuracy``: right answers
  plus right refusals) or, as many right, a higher share of answers whose every citation is
  gold (``all_citations_gold``); otherwise *neutral* or *worse*;
* the rival is the best other arm on the tuning half (ties: the first listed in ``RULES``, so
  ``off`` when it ties);
* ``keep`` when no other arm is better than ``now`` on the tuning half, and the rival is not
  better than ``now`` on the check half; else ``drop``, with ``replace_with`` the rival.
  The decision (and the rival) comes from the tuning half; the check half can only veto.

One process, one store (the dev corpus ingested once, or ``--store``), one embedder and one
model; each arm is an ``Assistant`` built from ``Settings`` overrides over that store. The
model's answers are shared across arms through the LLM response cache
(``rag.eval.cache.SqliteResponseCache``; a temporary file unless ``--llm-cache``), so an
arm only calls the model for prompts no earlier arm sent: rules that act after the model
cost seconds. Arms with the same settings are run once. Timings mean nothing here and are
not reported.

The results hold aggregates, setting values and question ids only: never a question,
answer or article text of the dev set (which has no licence).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import DEV_CORPUS, DEV_QUESTIONS, cached_chat, require, table, write_results

NAME = "rules"
HALVES = ("tuning", "check")
# rag.eval metrics kept per arm and half (see docs/evaluation.md for their meaning).
METRICS = (
    "n",
    "n_answerable",
    "n_unanswerable",
    "n_cited_answers",
    "errors",
    "accuracy",
    "contains_gold",
    "normalized_match",
    "false_abstention",
    "abstention_unanswerable",
    "all_citations_gold",
)


@dataclass(frozen=True)
class Rule:
    """A rule under test: where it lives and its arms (``now`` first, as ``--config`` sets)."""

    name: str
    where: str
    what: str
    arms: dict[str, dict[str, Any]]  # arm -> Settings overrides (``now``: none)


def _rule(name: str, where: str, what: str, **arms: dict[str, Any]) -> Rule:
    return Rule(name, where, what, {"now": {}, **arms})


def _days(week: int, fortnight: int, month: int) -> dict[str, Any]:
    return {"gate": {"this_week_days": week, "last_week_days": fortnight, "lately_days": month}}


# Arm names are setting values or ``off``; dict keys are ``Settings.with_overrides`` sections.
RULES: tuple[Rule, ...] = (
    _rule(
        "precise_figures",
        "rag/gate.py unmentioned (text.question_figures)",
        "refuse when no article holds a precise figure the question states",
        off={"gate": {"precise_figures": False}},
    ),
    _rule(
        "rare_name_share",
        "rag/gate.py unmentioned",
        "the question's rarest name (in at most this share of chunks) must be mentioned",
        off={"gate": {"rare_name_share": 0.0}},
        **{
            "0.01": {"gate": {"rare_name_share": 0.01}},
            "0.05": {"gate": {"rare_name_share": 0.05}},
        },
    ),
    _rule(
        "subject_check",
        "rag/gate.py _off_scope -> unmentioned",
        "refuse when the articles do not mention the question's subject (names, figures)",
        off={"gate": {"subject_check": False}},
    ),
    _rule(
        "freshness_windows",
        "rag/gate.py oldest_allowed (gate.this_week_days, last_week_days, lately_days)",
        "a time-relative question needs an article from the last 7/14/45 days",
        off=_days(3650, 3650, 3650),
        **{"5/10/30": _days(5, 10, 30), "10/21/90": _days(10, 21, 90)},
    ),
    _rule(
        "fresh_only",
        "rag/assistant.py -> gate.fresh",
        "a time-relative question reads only the recent articles, when there are any",
        off={"gate": {"fresh_only": False}},
    ),
    _rule(
        "headline_evidence",
        "rag/verify.py _judge",
        "a name or number from the cited passage's headline counts as in the passage",
        off={"verify": {"headline_evidence": False}},
    ),
    _rule(
        "restatement",
        "rag/verify.py is_restatement (verify.restatement, verify.drop_restatements)",
        "a sentence made only of the question's words is left out",
        off={"verify": {"drop_restatements": False}},
        **{"0.8": {"verify": {"restatement": 0.8}}},
    ),
    _rule(
        "answer_check",
        "rag/verify.py _answers (text.asked_kind, text.answer_terms; verify.require_answer)",
        "a kept sentence states something of the asked kind the question lacks",
        off={"verify": {"require_answer": False}},
    ),
    _rule(
        "retry",
        "rag/assistant.py _retry_kind (answer.retry, answer.RETRY_TEMPLATE)",
        "one more try for the asked kind only, after an answer that did not answer",
        off={"answer": {"retry": False}},
    ),
    _rule(
        "look_further",
        "rag/assistant.py _retry (answer.look_further)",
        'the retry after an unsupported answer or a "don\'t know" reads the next-best passages',
        off={"answer": {"look_further": False}},
    ),
    _rule(
        "subject_link",
        "rag/gate.py after (text.mentions_asked; gate.subject_link)",
        "refuse an answer whose cited sentences and headlines share no word with the question",
        on={"gate": {"subject_link": True}},  # off by default: the now arm is off
    ),
    _rule(
        "max_sentences",
        "rag/verify.py verify (verify.max_sentences)",
        "at most 3 supported sentences are kept",
        off={"verify": {"max_sentences": 100}},
        **{"2": {"verify": {"max_sentences": 2}}, "5": {"verify": {"max_sentences": 5}}},
    ),
    _rule(
        "min_score",
        "rag/gate.py before (retrieve.min_score)",
        "refuse before the model when no passage is this close to the question",
        off={"retrieve": {"min_score": -1.0}},
        **{"0.2": {"retrieve": {"min_score": 0.2}}, "0.3": {"retrieve": {"min_score": 0.3}}},
    ),
    _rule(
        "context_tokens",
        "rag/assistant.py _passage_budget (answer.context_tokens)",
        "the passages the model reads fit in 180 tokens (a budget: no off arm)",
        **{"120": {"answer": {"context_tokens": 120}}, "260": {"answer": {"context_tokens": 260}}},
    ),
)
BY_NAME = {r.name: r for r in RULES}


# ---- the verdict -----------------------------------------------------------------------------


def right(figures: dict[str, Any]) -> int:
    """Questions right on a half: ``accuracy`` times ``n``."""
    return round((figures.get("accuracy") or 0.0) * (figures.get("n") or 0))


def versus(a: dict[str, Any], b: dict[str, Any]) -> int:
    """1 when ``a`` is better than ``b`` on a half, -1 when worse, 0 when neutral."""
    diff = right(a) - right(b)
    if diff:
        return 1 if diff > 0 else -1
    x, y = a.get("all_citations_gold"), b.get("all_citations_gold")
    if x is None or y is None or x == y:
        return 0
    return 1 if x > y else -1


def verdict(arms: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """``keep`` or ``drop`` for one rule from its arms' figures by half (``now`` among them)."""
    now = arms["now"]
    others = [a for a in arms if a != "now"]
    tuning = {a: versus(now["tuning"], arms[a]["tuning"]) for a in others}
    rival = others[0]
    for a in others[1:]:
        if versus(arms[a]["tuning"], arms[rival]["tuning"]) > 0:
            rival = a
    check = versus(now["check"], arms[rival]["check"])
    helps = all(v >= 0 for v in tuning.values())
    keep = helps and check >= 0
    if not helps:
        why = f"{rival} is better than now on the tuning half"
    elif check < 0:
        why = f"now is no worse on the tuning half, but {rival} is better on the check half"
    elif any(v > 0 for v in tuning.values()):
        why = f"now is better on the tuning half and no worse than {rival} on the check half"
    else:
        why = f"neutral on the tuning half and no worse than {rival} on the check half"
    return {
        "verdict": "keep" if keep else "drop",
        "rival": rival,
        "replace_with": None if keep else rival,
        "now_vs_tuning": tuning,
        "now_vs_rival_check": check,
        "why": why,
    }


# ---- running the arms ----------------------------------------------------------------------


def figures(report: Any) -> dict[str, Any]:
    """The kept ``rag.eval`` metrics of one half's report, and the questions right."""
    f = {name: report.metrics.get(name) for name in METRICS}
    f["right"] = right(f)
    return f


def outcomes(report: Any) -> dict[str, str]:
    """Question id -> ``rag.eval`` outcome (ids only: no text)."""
    return {p.id: p.outcome for p in report.predictions}


def measure(
    assistant_for: Callable[[dict[str, Any]], Any],
    questions: Path,
    rules: Sequence[Rule],
    limit: int | None = None,
    progress: Callable[[str], None] = print,
    withhold_gold: bool = False,
) -> dict[str, Any]:
    """Every arm of ``rules`` on both halves; ``assistant_for(overrides)`` builds an arm's.

    ``withhold_gold``: each answerable question is asked with its gold and answer-bearing
    articles left out (``rag.eval.evaluate``), so every question is one to refuse.
    """
    from rag.eval import evaluate

    runs: dict[str, dict[str, Any]] = {}  # settings (JSON) -> {half: report}
    out: dict[str, Any] = {}
    for rule in rules:
        arms: dict[str, Any] = {}
        for arm, overrides in rule.arms.items():
            assistant = assistant_for(overrides)
            key = json.dumps(assistant.settings.model_dump(mode="json"), sort_keys=True)
            if key not in runs:
                started = time.perf_counter()
                runs[key] = {
                    half: evaluate(
                        assistant, questions, half=half, limit=limit, withhold_gold=withhold_gold
                    )
                    for half in HALVES
                }
                progress(f"{rule.name} {arm}: {time.perf_counter() - started:.0f} s")
            reports = runs[key]
            arms[arm] = {
                "settings": overrides,
                "halves": {h: figures(reports[h]) for h in HALVES},
                "outcomes": {h: outcomes(reports[h]) for h in HALVES},
            }
        now = arms["now"]["outcomes"]
        for arm in arms.values():
            arm["changed"] = {
                h: {q: [now[h][q], o] for q, o in arm["outcomes"][h].items() if now[h].get(q) != o}
                for h in HALVES
            }
        for arm in arms.values():
            del arm["outcomes"]
        out[rule.name] = {
            "where": rule.where,
            "what": rule.what,
            "arms": arms,
            **verdict({a: v["halves"] for a, v in arms.items()}),
        }
    return out


def main(argv: list[str] | None = None, *, llm: Any = None, embedder: Any = None) -> dict:
    """Run the bench; ``llm`` and ``embedder`` replace the configured ones (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS, help="Gold questions.")
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS, help="JSONL articles.")
    parser.add_argument(
        "--store",
        type=Path,
        help="A store holding the corpus; a new or empty one is filled with --corpus once and "
        "kept (default: a temporary store).",
    )
    parser.add_argument("--config", type=Path, help="The settings of the now arms.")
    parser.add_argument(
        "--rules", help=f"Comma-separated rules (default all: {', '.join(BY_NAME)})."
    )
    parser.add_argument("--limit", type=int, help="Only the first N questions of each half.")
    parser.add_argument(
        "--llm-cache",
        type=Path,
        help="Replay the model's answers from this SQLite file and record new ones "
        "(default: a temporary file, shared by the arms of this run only).",
    )
    parser.add_argument(
        "--withhold-gold",
        action="store_true",
        help="Ask the answerable questions with their gold articles left out: how often each "
        "arm refuses questions the store cannot answer (many more than the dev set's own).",
    )
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    parser.add_argument(
        "--name",
        default=NAME,
        help=f"Results file name (default {NAME}; another name keeps a partial run apart).",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.rules.split(",")] if args.rules else list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown rule(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    from rag.config import Settings

    base = Settings.from_toml(args.config)
    work = Path(tempfile.mkdtemp(prefix="bench-rules-"))
    try:
        return _run(args, names, base, work, llm, embedder)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # a store can be GBs; --llm-cache is kept


def _run(args: Any, names: list[str], base: Any, work: Path, llm: Any, embedder: Any) -> dict:
    from rag import embed
    from rag.assistant import Assistant
    from rag.eval import load_questions, split_date
    from rag.eval.gold import HALF_RULE, half_of

    rules = [BY_NAME[n] for n in names]
    questions = require(args.questions)
    everything = load_questions(questions)
    cut = split_date(everything)
    base = base.with_overrides(store={"path": args.store or work / "store"})
    embedder = embedder or embed.load(base.embed)
    chat, cache = cached_chat(base, args.llm_cache or work / "responses.sqlite", llm)
    first = Assistant(base, llm=chat, embedder=embedder)
    ingest = None
    if args.store is None or first.store.count() == 0:
        started = time.perf_counter()
        done = first.ingest([require(args.corpus)])
        ingest = {"seconds": round(time.perf_counter() - started, 1), "chunks": done.chunks}

    def assistant_for(overrides: dict[str, Any]) -> Any:
        settings = base.with_overrides(**overrides)
        return Assistant(settings, llm=chat, embedder=embedder, store=first.store)

    started = time.perf_counter()
    try:
        results = measure(assistant_for, questions, rules, args.limit, _say, args.withhold_gold)
    finally:
        first.store.close()
    asked = {h: sum(half_of(q, cut) == h for q in everything) for h in HALVES}
    summary = {
        "partial": bool(args.limit) or len(rules) < len(RULES),
        "limit": args.limit,
        "withhold_gold": args.withhold_gold,
        "halves": {"rule": HALF_RULE, "split_date": cut.isoformat() if cut else None, **asked},
        "judged_by": (
            "better on a half: more questions right (accuracy x n), then a higher "
            "all_citations_gold; keep when no arm beats now on the tuning half and the best "
            "other arm on the tuning half (the rival) does not beat now on the check half"
        ),
        "rules": results,
        "ingest": ingest,
        "llm_calls": {"replayed": cache.hits, "new": cache.misses} if cache else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    config = {
        "questions": str(args.questions),
        "corpus": str(args.corpus) if ingest else None,
        "store": str(args.store) if args.store else None,
        "config": str(args.config) if args.config else "configs/default.toml",
        "rules": names,
        "limit": args.limit,
        "withhold_gold": args.withhold_gold,
        "llm_cache": str(args.llm_cache) if args.llm_cache else None,
        "settings": base.model_dump(mode="json"),
    }
    path = write_results(args.name, config, summary, args.out_dir)
    print(render(summary))
    print(f"\nwrote {path}")
    return summary


def _say(line: str) -> None:
    print(line, flush=True)


def _cell(f: dict[str, Any], metric: str) -> str:
    value = f.get(metric)
    return "-" if value is None else f"{value:.2f}"


def render(summary: dict[str, Any]) -> str:
    """The plain-text table: one row per rule and arm, both halves side by side."""
    shown = [
        ("right", "right"),
        ("contains_gold", "gold"),
        ("normalized_match", "norm"),
        ("false_abstention", "refA"),
        ("abstention_unanswerable", "refU"),
        ("all_citations_gold", "citeG"),
    ]
    headers = ["rule", "arm"]
    headers += [f"{h[0]}:{label}" for h in HALVES for _, label in shown]
    headers.append("verdict")
    rows = []
    for name, rule in summary["rules"].items():
        for arm, a in rule["arms"].items():
            row = [name, arm]
            for h in HALVES:
                f = a["halves"][h]
                row += [str(f["right"]) if m == "right" else _cell(f, m) for m, _ in shown]
            row.append(rule["verdict"] if arm == "now" else "")
            rows.append(row)
    legend = (
        "t: tuning half, c: check half; right = questions right; gold/norm = answer contains "
        "gold (strict/normalised); refA = answerable refused; refU = unanswerable refused; "
        "citeG = answers whose every citation is gold"
    )
    return table(headers, rows) + "\n" + legend


if __name__ == "__main__":
    main()
