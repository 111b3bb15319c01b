"""Answer quality, ours against the naive tutorial pipeline, in one run: quality.json.

    python bench/quality.py                                # every dev question, both arms
    python bench/quality.py --config configs/wide.toml     # ... and ours with wide.toml
    python bench/quality.py --withhold-gold                # ... and the withheld-gold arm
    python bench/quality.py --limit 6                      # a quick look (never commit it)

One process, one embedder and one loaded LLM, and these arms:

* ``ours``: ``Assistant.stream`` with the default configuration, each question asked as of
  its ``question_date``;
* ``naive``: the tutorial pipeline of ``bench/naive.py`` (1000/200 character chunks, dense
  top-4, the stock prompt, the same model), wrapped to yield ``rag.types.Answer`` values;
* ``ours_<name>`` for each ``--config configs/<name>.toml``: ours with that configuration
  (sharing ours' store when chunking and embedding are the same);
* ``ours_withheld`` with ``--withhold-gold``: ours again on every answerable question with
  its gold and answer-bearing articles left out (``rag.eval.withheld``), after the others.

Every answer, of every arm, is scored by the same code: ``rag.eval.predict`` per question
and ``rag.eval.metrics.score`` over the questions, so each metric has one definition (see
docs/evaluation.md). Hit@4 is a gold article among the first 4 distinct articles of the
chunks the arm retrieved for its answer (ours: ``retrieve.k`` chunks, at most
``max_per_article`` from one article; naive: its 4 chunks). Figures are given for the
tuning half, the check half and all questions (``rag.eval.gold.split_date``).

Time to first token is measured the same way for every arm, outside the pipeline: from
the call to the first streamed token. Its p50 counts the questions where the model was
called (``rag.eval``'s ``ttft_p50_s``). The arms take turns question by question, in an
order that flips every question and puts naive between ours' arms, so llama.cpp's prompt
prefix cache favours none and machine noise hits all alike; the ratio ours / naive is
taken within this run.

The results hold aggregates and question ids only: never a question, answer or article
text of the dev set (which has no licence).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from common import (
    DEV_CORPUS,
    DEV_QUESTIONS,
    ROOT,
    gold_in_top_articles,
    require,
    subset_corpus,
    table,
    write_results,
)
from naive import DESCRIPTION as NAIVE
from naive import REFUSED as NAIVE_REFUSED
from naive import NaivePipeline

NAME = "quality"
HALVES = ("tuning", "check", "all")


@dataclass(frozen=True)
class Target:
    """A target of the issues, for one metric of ``figures``."""

    metric: str
    op: str  # ">=" or "<="
    value: float
    what: str
    note: str = ""

    def check(self, measured: float | None) -> dict[str, Any]:
        """The target next to its measured figure; ``met`` None when there is no figure."""
        met = None
        if measured is not None:
            met = measured >= self.value if self.op == ">=" else measured <= self.value
        return {"measured": measured, "target": self.value, "op": self.op, "met": met}


# The targets of the issues, in one table. The README shows each next to its figure.
TARGETS: tuple[Target, ...] = (
    Target("hit@4", ">=", 0.90, "gold article among the first 4 articles retrieved"),
    Target(
        "contains_gold",
        ">=",
        0.60,
        "answer contains a gold answer (strict)",
        "held-out ≥ 0.62",
    ),
    Target("all_citations_gold", ">=", 0.95, "answers whose every citation is gold"),
    Target("abstention_unanswerable", ">=", 0.88, "unanswerable questions refused"),
    Target(
        "false_abstention",
        "<=",
        0.07,
        "answerable questions refused",
        "older target ≤ 0.10",
    ),
    Target("ttft_ratio", "<=", 0.30, "time to first token p50, this arm / naive"),
)
# Refusal reasons (``Answer.abstain_reason``) name the question's words, so results keep
# only their kind: the reason's opening words (rag/gate.py, bench/naive.py) -> kind.
REASON_KINDS: tuple[tuple[str, str], ...] = (
    ("no article matched the question", "nothing retrieved"),
    ("no passage is close enough to the question", "relevance gate"),
    ("no retrieved article mentions", "subject not in the retrieved articles"),
    ("no cited article mentions", "subject not in the cited articles"),
    ("the question asks about recent events", "articles too old"),
    ("the model found no answer", "model found no answer"),
    ("no sentence of the model's answer is supported", "verification kept no sentence"),
    ("the model only restated the question", "model restated the question"),
    (NAIVE_REFUSED, "model said it does not know"),
)


def reason_kind(reason: str | None) -> str | None:
    """The kind of a refusal reason (``other`` for one not in ``REASON_KINDS``)."""
    if not reason:
        return None
    for opening, kind in REASON_KINDS:
        if reason.startswith(opening):
            return kind
    return "other"


# ---- scoring: rag.eval's code for every arm ----------------------------------------------


def figures(predictions: Sequence[Any]) -> dict[str, Any]:
    """The bench's figures over scored predictions (``rag.eval.Prediction``)."""
    from rag.eval.metrics import outcomes, score

    m = score(predictions)
    answerable = [p for p in predictions if p.answerable]
    unanswerable = [p for p in predictions if not p.answerable]
    ranked = [p for p in answerable if p.evidence_doc_ids]
    hits = [gold_in_top_articles(p.ranked_doc_ids, p.evidence_doc_ids) for p in ranked]
    return {
        "n": m["n"],
        "n_answerable": m["n_answerable"],
        "n_unanswerable": m["n_unanswerable"],
        "hit@4": _mean(hits),
        "n_retrieval": len(ranked),
        "articles_ranked_mean": _mean(len(p.ranked_doc_ids) for p in ranked),
        "contains_gold": m["contains_gold"],
        "normalized_match": m["normalized_match"],
        "evidence_in_context": m["evidence_in_context"],
        "answer_in_context": m["answer_in_context"],
        "all_citations_gold": m["all_citations_gold"],
        "n_cited_answers": m["n_cited_answers"],
        "citation_precision": m["citation_precision"],
        "abstention_unanswerable": m["abstention_unanswerable"],
        "refused_unanswerable": sum(p.abstained for p in unanswerable),
        "false_abstention": m["false_abstention"],
        "refused_answerable": sum(p.abstained for p in answerable),
        "accuracy": m["accuracy"],
        "ttft_p50_s": m["ttft_p50_s"],
        "n_ttft": m["n_ttft"],
        "latency_p50_s": m["latency_p50_s"],
        "errors": m["errors"],
        "outcomes": outcomes(predictions),
    }


def by_half(predictions: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """``figures`` for the tuning half, the check half and all questions."""
    return {
        "tuning": figures([p for p in predictions if p.half == "tuning"]),
        "check": figures([p for p in predictions if p.half == "check"]),
        "all": figures(predictions),
    }


def by_type(predictions: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Answer figures per question type (all questions)."""
    kinds = sorted({p.question_type for p in predictions})
    out = {}
    for kind in kinds:
        of = [p for p in predictions if p.question_type == kind]
        f = figures(of)
        out[kind] = {
            "n": f["n"],
            "contains_gold": f["contains_gold"],
            "correct": sum(bool(p.contains_gold) for p in of if p.answerable),
            "normalized_match": f["normalized_match"],
            "refused": sum(p.abstained for p in of),
        }
    return out


def reasons(predictions: Sequence[Any]) -> dict[str, dict[str, int]]:
    """Refusals by kind of reason, per half and for all questions."""
    out: dict[str, dict[str, int]] = {}
    for half in HALVES:
        of = [p for p in predictions if half == "all" or p.half == half]
        kinds = Counter(reason_kind(p.abstain_reason) or "no reason" for p in of if p.abstained)
        out[half] = dict(kinds.most_common())
    return out


def check_targets(
    arms: dict[str, dict[str, dict[str, Any]]], ratios: dict[str, dict[str, float | None]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{arm: {half: {metric: Target.check(...)}}}`` for every arm but the withheld one."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for arm, halves in arms.items():
        out[arm] = {}
        for half, f in halves.items():
            checked = {}
            for t in TARGETS:
                if t.metric == "ttft_ratio":
                    if arm in ratios:
                        checked[t.metric] = t.check(ratios[arm][half])
                else:
                    checked[t.metric] = t.check(f.get(t.metric))
            out[arm][half] = checked
    return out


def ttft_ratios(
    arms: dict[str, dict[str, dict[str, Any]]], naive: str = "naive"
) -> dict[str, dict[str, float | None]]:
    """TTFT p50 of each of ours' arms over naive's, per half (same run, same questions)."""
    out = {}
    for arm, halves in arms.items():
        if arm == naive:
            continue
        out[arm] = {}
        for half, f in halves.items():
            base = arms[naive][half]["ttft_p50_s"]
            ours = f["ttft_p50_s"]
            out[arm][half] = round(ours / base, 4) if ours is not None and base else None
    return out


def question_row(prediction: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """One arm's result for one question: ids, flags and times only (no text)."""
    p = prediction
    ranked = bool(p.evidence_doc_ids) and p.answerable
    return {
        "outcome": p.outcome,
        "correct": p.correct,
        "normalized_match": p.normalized_match,
        "abstained": p.abstained,
        "refusal": reason_kind(p.abstain_reason) if p.abstained else None,
        "hit@4": gold_in_top_articles(p.ranked_doc_ids, p.evidence_doc_ids) if ranked else None,
        "gold_in_context": p.evidence_in_context if p.answerable else None,
        "cited_articles": len(p.cited_doc_ids),
        "citations_all_gold": (
            set(p.cited_doc_ids) <= p.answer_docs if p.cited_doc_ids and p.answerable else None
        ),
        "ttft_s": p.ttft_s,
        "total_s": p.latency_s,
        "error": bool(p.error),
        **extra,
    }


def _mean(values: Any) -> float | None:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else None


# ---- the run -------------------------------------------------------------------------------


@dataclass
class Arm:
    """One pipeline under test: ``stream(question) -> Token..., Answer``."""

    name: str
    stream: Callable[[Any], Iterator[Any]]
    config: dict[str, Any]
    predictions: list[Any] = dataclasses.field(default_factory=list)
    rows: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def timed(events: Iterator[Any]) -> tuple[Any, dict[str, float]]:
    """The final Answer of a stream, and its time to first token and total, measured here."""
    from rag.types import Answer, Token

    start = time.perf_counter()
    first = None
    result = None
    for event in events:
        if isinstance(event, Token) and first is None:
            first = time.perf_counter() - start
        elif isinstance(event, Answer):
            result = event
    total = time.perf_counter() - start
    assert result is not None
    times = {"total_s": round(total, 4)}
    if first is not None:
        times["ttft_s"] = round(first, 4)
    return result, times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS, help="Gold questions.")
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS, help="JSONL articles.")
    parser.add_argument("--limit", type=int, help="Only the first N questions (a quick look).")
    parser.add_argument(
        "--distractors",
        type=int,
        default=10,
        help="With --limit: articles ingested besides the questions' gold ones.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        action="append",
        default=[],
        help="A further arm: ours with this configuration (repeatable), e.g. configs/wide.toml.",
    )
    parser.add_argument(
        "--withhold-gold",
        action="store_true",
        help="A further arm: ours on the answerable questions with their gold articles left out.",
    )
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    args = parser.parse_args(argv)

    from rag import embed, llm
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.eval import load_questions, predict, select, split_date, withheld
    from rag.eval.gold import HALF_RULE, half_of

    everything = load_questions(require(args.questions))
    cut = split_date(everything)  # on the whole gold set: a question's half never moves
    gold = select(everything, limit=args.limit)
    work = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    corpus = require(args.corpus)
    if args.limit:
        wanted = {d for q in gold for d in q.answer_docs}
        corpus = subset_corpus(args.corpus, wanted, args.distractors, work)

    settings = Settings.from_toml(None).with_overrides(store={"path": work / "store"})
    t0 = time.perf_counter()
    embedder = embed.load(settings.embed)
    chat = llm.load(settings.llm)
    chat.llama  # noqa: B018  (load the GGUF now, not inside the first timing)
    load_s = time.perf_counter() - t0

    ours = Assistant(settings, llm=chat, embedder=embedder)
    t0 = time.perf_counter()
    report = ours.ingest([corpus])
    ingest = {"ours": {"seconds": time.perf_counter() - t0, "chunks": report.chunks}}
    t0 = time.perf_counter()
    naive = NaivePipeline.build(corpus, embedder, chat, work)
    ingest["naive"] = {"seconds": time.perf_counter() - t0, "chunks": naive.chunks}

    def ask(assistant: Assistant) -> Callable[[Any], Iterator[Any]]:
        def stream(q: Any) -> Iterator[Any]:
            return assistant.stream(
                q.question, today=q.question_date or date.today(), exclude=q.withhold
            )

        return stream

    arms = [
        Arm("ours", ask(ours), {"file": "configs/default.toml", "settings": _dump(settings)}),
        Arm("naive", lambda q: naive.stream(q.question), {"pipeline": NAIVE}),
    ]
    for path in args.config:
        name = f"ours_{path.stem}"
        other = Settings.from_toml(path, store={"path": work / "store"})
        same_index = other.chunk == settings.chunk and other.embed == settings.embed
        if not same_index:
            other = other.with_overrides(store={"path": work / f"store-{path.stem}"})
        assistant = Assistant(
            other,
            llm=chat if other.llm == settings.llm else None,
            embedder=embedder if other.embed == settings.embed else None,
            store=ours.store if same_index else None,
        )
        if not same_index:
            t0 = time.perf_counter()
            done = assistant.ingest([corpus])
            ingest[name] = {"seconds": time.perf_counter() - t0, "chunks": done.chunks}
        arms.append(Arm(name, ask(assistant), {"file": _rel(path), "settings": _dump(other)}))

    # Warm-up, not recorded: each arm once, on the last question, so that no first call
    # (allocations, the system prompt's cached state) lands in the timings.
    for arm in arms:
        timed(arm.stream(gold[-1]))

    # Naive runs between ours and our further arms (the order of ``arms``, flipped every
    # question): they share the system prompt and often the first passages, so whichever ran
    # second would reuse the other's prompt prefix.
    started = time.perf_counter()
    errors_in_a_row = 0
    for i, q in enumerate(gold):
        line = []
        for arm in arms if i % 2 == 0 else arms[::-1]:
            prediction, extra, failed = _ask_one(arm, q, half_of(q, cut), predict, chat)
            errors_in_a_row = errors_in_a_row + 1 if failed else 0
            if errors_in_a_row >= 3:
                raise SystemExit(f"three errors in a row; the last: {prediction.error}")
            arm.predictions.append(prediction)
            arm.rows[q.id] = question_row(prediction, extra)
            ttft = f"{prediction.ttft_s:.1f}s" if prediction.ttft_s is not None else "-"
            mark = "ok" if prediction.correct else ("refused" if prediction.abstained else "x")
            line.append(f"{arm.name} {ttft} {mark}")
        print(f"[{i + 1}/{len(gold)}] {q.id}: " + ", ".join(line), flush=True)

    withheld_arm = None
    if args.withhold_gold:
        withheld_arm = Arm(
            "ours_withheld", ask(ours), {"file": "configs/default.toml", "withhold_gold": True}
        )
        asked = withheld(gold)
        for i, q in enumerate(asked):
            prediction, extra, _ = _ask_one(withheld_arm, q, half_of(q, cut), predict, chat)
            withheld_arm.predictions.append(prediction)
            withheld_arm.rows[q.id] = question_row(prediction, extra)
            kind = reason_kind(prediction.abstain_reason) if prediction.abstained else "answered"
            print(f"[withheld {i + 1}/{len(asked)}] {q.id}: {kind}", flush=True)
    duration_s = time.perf_counter() - started

    scored = {arm.name: by_half(arm.predictions) for arm in arms}
    ratios = ttft_ratios(scored)
    results: dict[str, Any] = {
        "questions": len(gold),
        "answerable": sum(q.answerable for q in gold),
        "unanswerable": sum(not q.answerable for q in gold),
        "partial": bool(args.limit),
        "halves": {
            "rule": HALF_RULE,
            "split_date": cut.isoformat() if cut else None,
            "dates": _date_range(everything),
            "gold_set": {h: sum(half_of(q, cut) == h for q in everything) for h in HALVES[:2]},
            "asked": {h: sum(half_of(q, cut) == h for q in gold) for h in HALVES[:2]},
        },
        "targets": {t.metric: dataclasses.asdict(t) for t in TARGETS},
        "arms": {
            arm.name: {
                "figures": scored[arm.name],
                "by_type": by_type(arm.predictions),
                "refusals": reasons(arm.predictions),
                "prompt_tokens_p50": _p50(r.get("prompt_tokens") for r in arm.rows.values()),
                "evaluated_prompt_tokens_p50": _p50(
                    r.get("evaluated_tokens") for r in arm.rows.values()
                ),
            }
            for arm in arms
        },
        "ttft_ratio": ratios,
        "checks": check_targets(scored, ratios),
        "model_load_s": load_s,
        "ingest": ingest,
        "asking_s": duration_s,
        "per_question": [
            {
                "id": q.id,
                "half": half_of(q, cut),
                "question_type": q.kind,
                "answerable": q.answerable,
                **{arm.name: arm.rows[q.id] for arm in arms},
            }
            for q in gold
        ],
    }
    if withheld_arm is not None:
        results["withheld"] = {
            "figures": by_half(withheld_arm.predictions),
            "refusals": reasons(withheld_arm.predictions),
            "per_question": [{"id": k, **v} for k, v in withheld_arm.rows.items()],
        }
    config = {
        "argv": argv,
        "questions": str(args.questions),
        "corpus": str(args.corpus),
        "limit": args.limit,
        "distractors": args.distractors if args.limit else None,
        "withhold_gold": args.withhold_gold,
        "arms": {arm.name: arm.config for arm in arms},
        "llm": {"n_threads": chat.n_threads, "n_ctx": chat.n_ctx, "max_tokens": chat.max_tokens},
    }
    path = write_results(NAME, config, results, args.out_dir)
    _print(results, path)
    shutil.rmtree(work, ignore_errors=True)  # stores can be GBs
    return results


def _ask_one(
    arm: Arm, q: Any, half: str | None, predict: Callable[..., Any], chat: Any
) -> tuple[Any, dict[str, Any], bool]:
    """Ask ``q`` through ``arm`` and score it; an error is scored as one (the run goes on)."""
    from rag.errors import EmptyStoreError, ModelError, StoreLockedError
    from rag.types import Answer

    error = None
    try:
        answer, times = timed(arm.stream(q))
        # Every arm's times as measured here, the same way (see the module docstring).
        timings = {k: v for k, v in answer.timings.items() if k not in ("ttft_s", "total_s")}
        answer = dataclasses.replace(answer, timings=timings | times)
    except (EmptyStoreError, ModelError, StoreLockedError):
        raise
    except Exception as ex:  # one bad question must not sink an hour's run
        error = f"{type(ex).__name__}: {ex}"
        print(f"{arm.name} {q.id}: {error}", flush=True)
        answer = Answer(question=q.question, text="")
    extra: dict[str, Any] = {}
    if answer.timings.get("ttft_s") is not None:
        stats = getattr(chat, "last_prompt", None) or {}
        if "prompt_tokens" in stats:
            extra["prompt_tokens"] = int(stats["prompt_tokens"])
            extra["evaluated_tokens"] = int(stats["prompt_tokens"] - stats.get("reused_tokens", 0))
    return predict(q, answer, half=half, error=error), extra, error is not None


def _date_range(questions: Sequence[Any]) -> list[str] | None:
    dates = sorted(q.question_date for q in questions if q.question_date)
    return [dates[0].isoformat(), dates[-1].isoformat()] if dates else None


def _p50(values: Any) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def _dump(settings: Any) -> dict[str, Any]:
    return settings.model_dump(mode="json")


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _print(results: dict[str, Any], path: Path) -> None:
    arms = list(results["arms"])
    labels = {t.metric: f"{t.metric} ({t.op} {t.value:g})" for t in TARGETS}
    shown = [
        "hit@4",
        "contains_gold",
        "normalized_match",
        "evidence_in_context",
        "all_citations_gold",
        "abstention_unanswerable",
        "false_abstention",
        "ttft_p50_s",
        "ttft_ratio",
    ]
    for half in HALVES:
        rows = []
        for metric in shown:
            row: list[Any] = [labels.get(metric, metric)]
            for arm in arms:
                if metric == "ttft_ratio":
                    value = results["ttft_ratio"].get(arm, {}).get(half)
                else:
                    value = results["arms"][arm]["figures"][half][metric]
                check = results["checks"][arm][half].get(metric)
                mark = ""
                if check and check["met"] is not None:
                    mark = " ok" if check["met"] else " MISSED"
                row.append("-" if value is None else f"{value:.3f}{mark}")
            rows.append(row)
        n = results["arms"]["ours"]["figures"][half]["n"]
        print(f"\n{half} ({n} questions)")
        print(table(["metric (target)", *arms], rows))
    if "withheld" in results:
        w = results["withheld"]["figures"]["all"]
        print(
            f"\nwithheld gold: refused {w['refused_unanswerable']} of {w['n_unanswerable']}; "
            + ", ".join(f"{k} {v}" for k, v in results["withheld"]["refusals"]["all"].items())
        )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
