"""``rag eval``: score the assistant on gold questions, compare runs, redraw reports."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal

import click

from rag.assistant import Assistant
from rag.cli.options import assistant_options
from rag.errors import RagError


@click.group(name="eval", invoke_without_command=True)
@click.option(
    "--questions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Gold questions, JSON lines (format: docs/evaluation.md).",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, path_type=Path),
    help="Articles to ingest into a fresh store under --out (default: ask the existing store).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder for predictions, metrics and reports (default: runs/eval-<time>).",
)
@click.option(
    "-k",
    "--k",
    "k",
    type=click.IntRange(1, 20),
    help="Passages given to the model (default: retrieve.k of the config).",
)
@click.option(
    "--mode",
    type=click.Choice(["open", "choice"]),
    default="open",
    show_default=True,
    help="open: free answers; choice: pick one of the question's choices by letter.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Ask only the first N questions.")
@click.option("--types", help="Only these question types, comma-separated (factoid,numeric).")
@click.option(
    "--half",
    type=click.Choice(["tuning", "check"]),
    help="Only one half of the gold set: tuning (the earlier questions, up to the median "
    "question date) or check (the later ones).",
)
@click.option("--overwrite", is_flag=True, help="Replace a previous run in --out.")
@click.option(
    "--llm-cache",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Replay the model's answers to prompts seen before from this SQLite file, and "
    "record new ones: for tuning rules that act after the model. Timings of replayed "
    "answers mean nothing.",
)
@click.option(
    "--withhold-gold",
    is_flag=True,
    help="Ask each answerable question with its gold and answer-bearing articles left out: "
    "it then has no answer, and the assistant should abstain.",
)
@click.option("json_", "--json", is_flag=True, help="Print metrics.json instead of a summary.")
@assistant_options
@click.pass_context
def eval_(
    ctx: click.Context,
    assistant: Assistant,
    questions: Path | None,
    corpus: Path | None,
    out: Path | None,
    k: int | None,
    mode: str,
    limit: int | None,
    types: str | None,
    half: Literal["tuning", "check"] | None,
    overwrite: bool,
    llm_cache: Path | None,
    withhold_gold: bool,
    json_: bool,
) -> None:
    """Ask gold questions and score retrieval, answers, citations, abstention and latency.

    Writes predictions.jsonl, metrics.json, report.md and report.html into --out.

    \b
        rag eval --questions ../shared/eval/dev/questions.jsonl \\
                 --corpus ../shared/eval/dev/corpus.jsonl --out runs/dev --limit 5
        rag eval --questions q.jsonl --out runs/x        # against the existing store
        rag eval compare runs/a runs/b                    # what changed between runs
    """
    if ctx.invoked_subcommand is not None:
        return
    if questions is None:
        raise click.UsageError("Missing option '--questions' (or run `rag eval compare A B`).")
    from rag.eval import evaluate
    from rag.eval.report import text_summary

    out = out or Path("runs") / f"eval-{datetime.now():%Y%m%d-%H%M%S}"
    if llm_cache is not None:
        from rag.eval.cache import SqliteResponseCache
        from rag.llm import LlamaCppChat

        if not isinstance(assistant.llm, LlamaCppChat):
            raise click.UsageError(
                "--llm-cache works with the in-process model (llm.provider = llama)"
            )
        assistant.llm.response_cache = SqliteResponseCache(llm_cache)
    report = evaluate(
        assistant,
        questions,
        corpus=corpus,
        out=out,
        k=k,
        mode=mode,  # type: ignore[arg-type]
        limit=limit,
        types=types.split(",") if types else None,
        overwrite=overwrite,
        half=half,
        withhold_gold=withhold_gold,
        progress=not json_ and sys.stderr.isatty(),
    )
    if json_:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(text_summary(report))
    files = "also report.md, metrics.json, predictions.jsonl"
    click.echo(f"\nreport: {out / 'report.html'}  ({files})")


@eval_.command(name="compare")
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write compare.json and compare.md (default: RUN_B).",
)
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 if a metric regressed.")
@click.option("json_", "--json", is_flag=True, help="Print compare.json instead of markdown.")
def eval_compare(
    run_a: Path, run_b: Path, out: Path | None, fail_on_regression: bool, json_: bool
) -> None:
    """Compare RUN_B with RUN_A (the baseline): metric deltas and questions that changed."""
    from rag.eval import compare, comparison_markdown

    try:
        result = compare(run_a, run_b)
    except RagError as ex:
        raise click.ClickException(str(ex)) from ex
    data, md = result.to_dict(), comparison_markdown(result)
    target = out or run_b
    target.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    (target / "compare.json").write_text(text + "\n", encoding="utf-8")
    (target / "compare.md").write_text(md, encoding="utf-8")
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if json_ else md)
    if fail_on_regression and result.regressions:
        raise SystemExit(1)


@eval_.command(name="report")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
def eval_report(run: Path) -> None:
    """Redraw report.md and report.html of RUN from its metrics.json and predictions.jsonl."""
    from rag.eval import EvalReport
    from rag.eval.report import write

    try:
        paths = write(EvalReport.load(run), run)
    except RagError as ex:
        raise click.ClickException(str(ex)) from ex
    click.echo("\n".join(str(p) for p in paths))


@eval_.command(name="disagreements")
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@assistant_options
@click.option("json_", "--json", is_flag=True, help="Print the scores as JSON.")
def eval_disagreements(assistant: Assistant, pairs: Path, json_: bool) -> None:
    """Precision and recall of the "Reports differ" detector on labelled article PAIRS.

    PAIRS is a JSON-lines file of article pairs labelled conflict, update or none
    (docs/evaluation.md); scores per split (tuning, check, holdout) and over all. Needs
    the embedding model only: no store, no chat model.

    \b
        rag eval disagreements tests/data/disagreements/pairs.jsonl
    """
    from rag.eval.news import load_pairs, score_pairs, text_summary

    try:
        items = load_pairs(pairs)
    except (ValueError, KeyError, TypeError) as ex:
        raise click.ClickException(f"{pairs}: not a file of labelled pairs ({ex})") from ex
    scores = score_pairs(items, assistant.embedder.encode, assistant.settings.news)
    if json_:
        data = {split: score.to_dict() for split, score in scores.items()}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(text_summary(scores, str(pairs)))


@eval_.command(name="news")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--corpus",
    type=click.Path(exists=True, path_type=Path),
    help="Articles to ingest into a temporary store (default: ask the existing store).",
)
@click.option(
    "--kinds",
    help="Only these kinds, comma-separated (timeline,changes,freshness; default: all).",
)
@assistant_options
@click.option("json_", "--json", is_flag=True, help="Print the scores as JSON.")
def eval_news(
    assistant: Assistant, gold: Path, corpus: Path | None, kinds: str | None, json_: bool
) -> None:
    """Score timelines, what-changed answers and freshness notes on a GOLD file.

    GOLD is a JSON-lines file of items of kind timeline, changes or freshness
    (docs/evaluation.md); scores per split and over all. Timeline items need no chat
    model; each freshness item asks once, each changes item twice.

    \b
        rag eval news tests/data/news_gold.jsonl --corpus tests/data/stories
        rag eval news tests/data/news_gold.jsonl --corpus tests/data/stories --kinds timeline
    """
    from rag.eval.news_run import evaluate_news_file
    from rag.eval.news_score import text_summary

    try:
        chosen = kinds.split(",") if kinds else None
        scores, _ = evaluate_news_file(assistant, gold, corpus, chosen, sys.stderr.isatty())
    except RagError as ex:
        raise click.ClickException(str(ex)) from ex
    if json_:
        data = {split: score.to_dict() for split, score in scores.items()}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(text_summary(scores, str(gold)))
