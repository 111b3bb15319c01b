"""Time to first token, total time and accuracy: our pipeline against the naive tutorial one.

    python bench/answer.py                 # every dev question
    python bench/answer.py --limit 3

The pipelines share one embedder and one loaded ``LlamaCppChat`` and run in the same
process, interleaved question by question (the order flips), so machine noise hits all
alike:

* ours: ``Assistant.stream`` with the question's question_date as today;
* ours_wide: the same with ``configs/wide.toml`` (twice the passage budget; ``--no-wide``
  skips it);
* naive: the tutorial pipeline of ``bench/naive.py`` (``RecursiveCharacterTextSplitter(1000,
  200)`` chunks in a separate Chroma collection, same embedder, dense top-4, the usual "Use
  the following pieces of context..." prompt).

Accuracy is ``rag.eval``'s strict contains-gold (``contains_answer``) on answerable questions
and abstention on unanswerable ones; ``bench/quality.py`` scores both pipelines in full. A
prefix-cache probe first times the same question twice, two different questions, and our
question right after a naive one.

The results hold aggregates and, per question, its id, type and each arm's numbers (times,
tokens, abstained, correct): never a question, answer or article text.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from common import (
    DEV_CORPUS,
    DEV_QUESTIONS,
    gate,
    peak_rss_mb,
    pyplot,
    read_jsonl,
    subset_corpus,
    summary,
    table,
    write_results,
)
from naive import DESCRIPTION as NAIVE
from naive import NaivePipeline

NAME = "answer"
TARGET_TTFT_RATIO = 0.3
WIDE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "wide.toml"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS, help="Gold questions.")
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS, help="JSONL articles.")
    parser.add_argument("--limit", type=int, help="Only the first N questions.")
    parser.add_argument(
        "--sample", type=int, help="N questions spread evenly over the file (full corpus)."
    )
    parser.add_argument(
        "--distractors",
        type=int,
        default=10,
        help="With --limit: articles ingested besides the evidence ones.",
    )
    parser.add_argument("--no-probe", action="store_true", help="Skip the prefix-cache probe.")
    parser.add_argument(
        "--wide-config",
        type=Path,
        default=WIDE_CONFIG,
        help="Also run ours with this configuration (the ours_wide arm).",
    )
    parser.add_argument("--no-wide", action="store_true", help="Skip the ours_wide arm.")
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    args = parser.parse_args(argv)

    from rag import embed, llm
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.eval import contains_answer
    from rag.types import Answer, Token

    questions = read_jsonl(args.questions, args.limit)
    if args.sample and args.sample < len(questions):
        step = len(questions) / args.sample
        questions = [questions[int(i * step)] for i in range(args.sample)]
    work = Path(tempfile.mkdtemp(prefix="bench-answer-"))
    corpus = args.corpus
    if args.limit:  # the evidence articles plus a few others
        wanted = {d for q in questions for d in q.get("evidence_doc_ids") or []}
        corpus = subset_corpus(args.corpus, wanted, args.distractors, work)
    settings = Settings.from_toml(None).with_overrides(store={"path": work / "store"})
    t0 = time.perf_counter()
    embedder = embed.load(settings.embed)
    chat = llm.load(settings.llm)
    chat.llama  # noqa: B018  (load the GGUF now, not inside the first timing)
    load_s = time.perf_counter() - t0

    assistant = Assistant(settings, llm=chat, embedder=embedder)
    t0 = time.perf_counter()
    assistant.ingest([corpus])
    ours_ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = NaivePipeline.build(corpus, embedder, chat, work)
    naive_ingest_s = time.perf_counter() - t0

    wide_settings = Settings.from_toml(args.wide_config, store={"path": work / "store"})
    wide = Assistant(wide_settings, llm=chat, embedder=embedder, store=assistant.store)

    def run_ours(q: dict[str, Any], pipeline: Assistant = assistant) -> dict[str, Any]:
        start = time.perf_counter()
        first: float | None = None
        result: Answer | None = None
        for event in pipeline.stream(q["question"], today=date.fromisoformat(q["question_date"])):
            if isinstance(event, Token) and first is None:
                first = time.perf_counter() - start
            elif isinstance(event, Answer):
                result = event
        total = time.perf_counter() - start
        assert result is not None
        called = first is not None
        return {"ttft_s": first if called else total, "total_s": total, "llm_called": called,
                "text": result.text, "abstained": result.abstained,
                **(_prompt_stats(chat) if called else {"prompt_tokens": 0,
                                                         "reused_tokens": 0})}  # fmt: skip

    def run_naive(q: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        first: float | None = None
        result: Answer | None = None
        for event in naive.stream(q["question"]):
            if isinstance(event, Token) and first is None:
                first = time.perf_counter() - start
            elif isinstance(event, Answer):
                result = event
        total = time.perf_counter() - start
        assert result is not None
        return {"ttft_s": first if first is not None else total, "total_s": total,
                "llm_called": True, "text": result.text, "abstained": result.abstained,
                **_prompt_stats(chat)}  # fmt: skip

    # ---- warm-up and prefix-cache probe -------------------------------------------------------
    answerable = [q for q in questions if q.get("answerable")] or questions
    q1, q2 = answerable[0], answerable[min(1, len(answerable) - 1)]
    probe: dict[str, Any] = {}
    run_naive(q2)  # warm-up (whatever the cache held before)
    if not args.no_probe:
        probe["ours_first_call"] = run_ours(q1)
        probe["ours_same_question_again"] = run_ours(q1)
        probe["ours_different_question"] = run_ours(q2)
        run_naive(q1)
        probe["ours_after_a_naive_call"] = run_ours(q2)
    probe = {k: {f: v[f] for f in ("ttft_s", "total_s", "prompt_tokens", "reused_tokens")}
             for k, v in probe.items()}  # fmt: skip

    # ---- the interleaved run ------------------------------------------------------------------
    # Naive runs between our two arms: llama.cpp reuses the longest prompt prefix it still
    # holds, and ours and ours_wide start with the same passages, so whichever of them ran
    # second would skip most of its prompt. The order flips every question.
    arms = [("ours", run_ours), ("naive", run_naive)]
    if not args.no_wide:
        arms.append(("ours_wide", lambda q: run_ours(q, wide)))
    names = [name for name, _ in arms]
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(questions):
        order = arms if i % 2 == 0 else arms[::-1]
        row: dict[str, Any] = {"id": q["id"], "answerable": bool(q.get("answerable")),
                               "question_type": q.get("question_type")}  # fmt: skip
        for name, fn in order:
            out = fn(q)
            text = out.pop("text")  # scored, never written (see the module docstring)
            out["correct"] = (contains_answer(text, q.get("answers") or [])
                              if row["answerable"] else out["abstained"])  # fmt: skip
            row[name] = out
        rows.append(row)
        print(f"[{i + 1}/{len(questions)}] " + "  ".join(
            f"{name} ttft {row[name]['ttft_s']:.2f}s ({'ok' if row[name]['correct'] else 'x'})"
            for name in names), flush=True)  # fmt: skip

    results: dict[str, Any] = {
        "questions": len(questions),
        "answerable": sum(r["answerable"] for r in rows),
        "model_load_s": load_s,
        "ingest_s": {"ours": ours_ingest_s, "naive": naive_ingest_s},
        "prefix_cache_probe": probe,
        "per_question": rows,
        "peak_rss_mb": peak_rss_mb(),
    }
    for name in names:
        got = [r[name] for r in rows]
        called = [g for g in got if g["llm_called"]]
        ans = [r[name] for r in rows if r["answerable"]]
        unans = [r[name] for r in rows if not r["answerable"]]
        results[name] = {
            "ttft_s": summary([g["ttft_s"] for g in got]),
            "ttft_s_llm_called": summary([g["ttft_s"] for g in called]),
            "total_s": summary([g["total_s"] for g in got]),
            "prompt_tokens": summary([g["prompt_tokens"] for g in called]),
            "evaluated_prompt_tokens": summary(
                [g["prompt_tokens"] - g["reused_tokens"] for g in called]
            ),
            "llm_calls": len(called),
            "accuracy_answerable": _share(ans),
            "abstention_unanswerable": _share(unans),
            "false_abstention_answerable": (
                sum(g["abstained"] for g in ans) / len(ans) if ans else None
            ),
            "accuracy_overall": _share(got),
        }
    naive_r = results["naive"]
    results["targets"] = {}
    for name in (n for n in names if n != "naive"):
        ours = results[name]
        # Over the questions where the model was called, as rag.eval's ttft_p50_s (a refusal
        # before the model has no first token).
        mine, base = ours["ttft_s_llm_called"].get("p50"), naive_r["ttft_s_llm_called"].get("p50")
        ratio = mine / base if mine is not None and base else float("nan")
        results["targets"][name] = {
            "ttft_p50_ratio": gate(ratio, TARGET_TTFT_RATIO) | {"what": f"{name} / naive TTFT p50"},
            "accuracy": {"ours": ours["accuracy_overall"], "naive": naive_r["accuracy_overall"],
                         "met": ours["accuracy_overall"] >= naive_r["accuracy_overall"]},
        }  # fmt: skip
    config = {"argv": argv, "questions": str(args.questions), "corpus": str(corpus),
              "limit": args.limit, "sample": args.sample,
              "settings": settings.model_dump(mode="json"),
              "wide_settings": None if args.no_wide else wide_settings.model_dump(mode="json"),
              "naive": NAIVE,
              "llm": {"n_threads": chat.n_threads, "n_ctx": chat.n_ctx,
                      "max_tokens": chat.max_tokens}}  # fmt: skip
    path = write_results(NAME, config, results, args.out_dir)
    _plot(rows, names, path.with_suffix(".png"))
    _print(results, names, path)
    shutil.rmtree(work, ignore_errors=True)  # stores can be GBs
    return results


def _share(items: list[dict[str, Any]]) -> float | None:
    return sum(i["correct"] for i in items) / len(items) if items else None


def _prompt_stats(chat: Any) -> dict[str, int]:
    stats = getattr(chat, "last_prompt", None) or {}
    return {"prompt_tokens": int(stats.get("prompt_tokens", 0)),
            "reused_tokens": int(stats.get("reused_tokens", 0))}  # fmt: skip


def _plot(rows: list[dict[str, Any]], names: list[str], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "ttft_s", "time to first token (s)"),
                           (axes[1], "total_s", "total time (s)")):  # fmt: skip
        ax.boxplot([[r[name][key] for r in rows] for name in names], tick_labels=names)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Our pipeline vs the naive tutorial RAG ({len(rows)} questions, same model)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _print(results: dict[str, Any], names: list[str], path: Path) -> None:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    rows = []
    for name in names:
        r = results[name]
        rows.append([name, r["ttft_s"]["p50"], r["ttft_s"]["p95"], r["total_s"]["p50"],
                     r["total_s"]["p95"], r["prompt_tokens"].get("p50", float("nan")),
                     r["evaluated_prompt_tokens"].get("p50", float("nan")),
                     pct(r["accuracy_answerable"]), pct(r["abstention_unanswerable"]),
                     pct(r["accuracy_overall"])])  # fmt: skip
    print(table(["pipeline", "TTFT p50 s", "TTFT p95 s", "total p50 s", "total p95 s",
                 "prompt tok p50", "evaluated tok p50", "acc answerable",
                 "abstain unanswerable", "acc overall"], rows))  # fmt: skip
    for name, t in results["targets"].items():
        print(f"TTFT p50 {name}/naive = {t['ttft_p50_ratio']['measured']:.2f} (target <= "
              f"{TARGET_TTFT_RATIO}): {'met' if t['ttft_p50_ratio']['met'] else 'NOT met'}; "
              f"accuracy {pct(t['accuracy']['ours'])} vs {pct(t['accuracy']['naive'])}: "
              f"{'met' if t['accuracy']['met'] else 'NOT met'}")  # fmt: skip
    print("\nprefix cache probe (ours):")
    print(table(["call", "TTFT s", "total s", "prompt tokens", "reused tokens"],
                [[k, v["ttft_s"], v["total_s"], v["prompt_tokens"], v["reused_tokens"]]
                 for k, v in results["prefix_cache_probe"].items()]))  # fmt: skip
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
