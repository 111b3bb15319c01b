"""The ``rag`` command line: thin commands over ``Assistant``."""

from __future__ import annotations

import functools
import json
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from rag.assistant import Assistant
from rag.errors import RagError
from rag.types import Answer, Changes, Timeline, Token

F = TypeVar("F", bound=Callable[..., Any])
DATE = click.DateTime(formats=["%Y-%m-%d"])


def assistant_options(func: F) -> F:
    """``--store``/``--store-url``/``--config``/``-v``, turned into an ``assistant`` argument."""

    @click.option("--store", "store", type=click.Path(file_okay=False, path_type=Path),
                  envvar="NEWSQA_STORE", help="Store directory (default: $NEWSQA_STORE or the "
                  "user data dir).")  # fmt: skip
    @click.option("--store-url", "store_url", envvar="NEWSQA_STORE_URL", metavar="URL",
                  help="A Chroma server (http://host:port of `chroma run`) to use instead of "
                  "the local store; --store then only holds its BM25 cache.")  # fmt: skip
    @click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="NEWSQA_CONFIG",
        help="Config TOML (default: configs/default.toml).",
    )
    @click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
    @functools.wraps(func)
    def wrapper(
        store: Path | None, store_url: str | None, config: Path | None, verbose: int, **kwargs: Any
    ) -> Any:
        level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
        try:
            overrides = {"store": {"path": store, "url": store_url or None}}
            assistant = Assistant.from_config(config, **overrides)
            return func(assistant=assistant, **kwargs)
        except (RagError, FileNotFoundError) as ex:
            raise click.ClickException(str(ex)) from ex
        except ValidationError as ex:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in ex.errors())
            raise click.ClickException(f"invalid config: {problems}") from ex

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsqa")
def cli() -> None:
    """Answer questions about news articles, with a cited passage behind every claim."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("json_", "--json", is_flag=True, help="Print the report as JSON.")
@assistant_options
def ingest(assistant: Assistant, paths: tuple[str, ...], json_: bool) -> None:
    """Load, chunk, embed and store the articles in PATHS (files or folders).

    A file that cannot be read is reported and skipped; the others are stored. The exit
    status is 1 when any file failed, so scripts notice.

    \b
        rag ingest seeds/ ../shared/eval/dev/corpus.jsonl
    """
    report = assistant.ingest(paths, progress=not json_ and sys.stderr.isatty())
    if json_:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for path, reason in report.failed:
            click.echo(f"failed: {path}: {reason}", err=True)
        click.echo(str(report))
    if report.failed:
        sys.exit(1)


@cli.command()
@click.argument("question")
@click.option("-k", type=click.IntRange(1, 20), help="Number of passages to retrieve.")
@click.option("--today", type=DATE, help="Answer as of this date (YYYY-MM-DD).")
@click.option("--since", type=DATE, help="Only articles published on or after this date.")
@click.option("--until", type=DATE, help="Only articles published on or before this date.")
@click.option("--since-then", "since_then", type=DATE, metavar="DATE",
              help="Also answer as of DATE and say what changed since (two answers).")  # fmt: skip
@click.option("json_", "--json", is_flag=True, help="Print the answer as JSON.")
@assistant_options
def ask(
    assistant: Assistant,
    question: str,
    k: int | None,
    today: datetime | None,
    since: datetime | None,
    until: datetime | None,
    since_then: datetime | None,
    json_: bool,
) -> None:
    """Answer QUESTION from the stored articles, citing passages.

    \b
        rag ask "Why did Ukraine want Patriot systems?"
        rag ask --json --today 2022-09-15 "Which goal did Biden announce?"
        rag ask --since-then 2025-06-07 "Is the Castlemere dock strike still on?"
    """
    events: Iterator[Token | Answer | Changes]
    if since_then is not None:
        if since or until:
            raise click.UsageError("--since-then answers as of two dates: drop --since/--until.")
        events = assistant.stream_changes(question, since_then.date(), today=_day(today), k=k)
    else:
        events = assistant.stream(
            question, k=k, today=_day(today), since=_day(since), until=_day(until)
        )
    days = [since_then.date(), _day(today) or date.today()] if since_then else []
    if days and not json_:
        click.echo(f"As of {days.pop(0).isoformat()}:")
    for event in events:
        if isinstance(event, Token):
            if not json_:
                click.echo(event.text, nl=False)
        elif isinstance(event, Answer) and since_then is not None:
            if not json_:
                _echo_answer(render(event) + "\n")
                if days:
                    click.echo(f"As of {days.pop(0).isoformat()}:")
        elif isinstance(event, Changes):
            click.echo(json.dumps(event.to_dict(), indent=2, ensure_ascii=False) if json_
                       else f"What changed: {event.difference}")  # fmt: skip
        elif isinstance(event, Answer):
            if json_:
                click.echo(json.dumps(event.to_dict(), indent=2, ensure_ascii=False))
            else:
                _echo_answer(render(event))


def _echo_answer(text: str) -> None:
    """Replace the streamed tokens with the verified answer."""
    click.echo("\r\033[K" if sys.stdout.isatty() else "\n", nl=False)
    click.echo(text)


@cli.command()
@click.argument("topic")
@click.option("--since", type=DATE, help="Only articles published on or after this date.")
@click.option("--until", type=DATE, help="Only articles published on or before this date.")
@click.option("--today", type=DATE, help="As of this date (YYYY-MM-DD): later articles are hidden.")
@click.option("--limit", type=click.IntRange(1, 100), default=12, show_default=True,
              help="At most this many events (the best matching).")  # fmt: skip
@click.option("--headings", is_flag=True, help="Add a one-line heading per event (LLM, verified).")
@click.option("json_", "--json", is_flag=True, help="Print the timeline as JSON.")
@assistant_options
def timeline(
    assistant: Assistant,
    topic: str,
    since: datetime | None,
    until: datetime | None,
    today: datetime | None,
    limit: int,
    headings: bool,
    json_: bool,
) -> None:
    """The events of TOPIC, oldest first: one exact sentence per article (no LLM call).

    \b
        rag timeline "Castlemere dock strike"
        rag timeline --json --since 2025-06-01 "Castlemere dock strike"
    """
    result = assistant.timeline(
        topic, since=_day(since), until=_day(until), today=_day(today), limit=limit,
        headings=headings,
    )  # fmt: skip
    click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) if json_
               else render_timeline(result))  # fmt: skip


@cli.command()
@click.argument("question")
@click.option("-k", type=click.IntRange(1, 50), default=8, show_default=True,
              help="Number of chunks.")  # fmt: skip
@click.option("--today", type=DATE, help="Search as of this date (YYYY-MM-DD).")
@click.option("json_", "--json", is_flag=True, help="Print the hits as JSON.")
@assistant_options
def search(
    assistant: Assistant, question: str, k: int, today: datetime | None, json_: bool
) -> None:
    """Show the chunks retrieved for QUESTION (no LLM call)."""
    hits = assistant.retrieve(question, k=k, today=_day(today))
    if json_:
        rows = [{"chunk_id": h.chunk_id, "doc_id": h.doc_id, "title": h.title,
                 "score": h.score, "dense": h.dense, "bm25": h.bm25, "text": h.text}
                for h in hits]  # fmt: skip
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for i, h in enumerate(hits, 1):
        dense = f"{h.dense:.2f}" if h.dense is not None else "-"
        click.echo(f"{i}. {h.title} ({_date(h.published)}) dense={dense} [{h.chunk_id}]")
        click.echo(textwrap.indent(textwrap.shorten(h.text, 300), "   "))


@cli.command(name="list")
@click.option("json_", "--json", is_flag=True, help="Print the articles as JSON.")
@assistant_options
def list_(assistant: Assistant, json_: bool) -> None:
    """List the articles in the store: doc_id, title, published, chunks."""
    articles = assistant.list_articles()
    if json_:
        rows = [
            {
                "doc_id": a.doc_id,
                "title": a.title,
                "published": _date(a.published),
                "url": a.url,
                "source": a.source,
                "chunks": a.chunks,
            }
            for a in articles
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))  # fmt: skip
        return
    for a in articles:
        click.echo(f"{a.doc_id}\t{_date(a.published)}\t{a.chunks}\t{a.title}")
    click.echo(f"{len(articles)} articles", err=True)


@cli.command()
@click.argument("doc_ids", nargs=-1, required=True)
@assistant_options
def delete(assistant: Assistant, doc_ids: tuple[str, ...]) -> None:
    """Remove articles (and all their chunks) by DOC_ID."""
    missing = [d for d in doc_ids if not assistant.delete(d)]
    for doc_id in doc_ids:
        if doc_id not in missing:
            click.echo(f"deleted {doc_id}")
    if missing:
        raise click.ClickException(f"no such article: {', '.join(missing)}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=7860, show_default=True, type=int, help="Port to listen on.")
@click.option("--ingest", "ingest_paths", multiple=True, help="Ingest these paths first.")
@assistant_options
def serve(assistant: Assistant, host: str, port: int, ingest_paths: tuple[str, ...]) -> None:
    """Serve the chat in the browser."""
    from ui.app import serve as serve_app  # gradio is imported only here

    if assistant.settings.llm.provider == "llama":
        # Before anything listens: a model library that crashes on this CPU is one clear
        # line here, not a server whose first question kills it.
        from rag import llm, probe

        probe.ensure_model_runs(llm.model_path(assistant.settings.llm))
    if ingest_paths:
        click.echo(str(assistant.ingest(ingest_paths, progress=sys.stderr.isatty())))
    serve_app(assistant, host=host, port=port)


def render(result: Answer) -> str:
    """A plain-text answer with its numbered sources, disagreements and freshness note."""
    lines = [result.text]
    if result.abstained and result.abstain_reason:
        lines.append(f"({result.abstain_reason})")
    if result.freshness:
        lines.append(f"Note: {result.freshness.text}")
    for d in result.disagreements:
        lines.append(d.text)
    for c in result.citations:
        lines.append(f"\n[{c.n}] {c.title} ({_date(c.published)}){' - ' + c.url if c.url else ''}")
        lines.append(textwrap.indent(textwrap.fill(f"“{c.quote}”", 96), "    "))
    return "\n".join(lines)


def render_timeline(result: Timeline) -> str:
    """A plain-text timeline: date, title and the event's sentence, oldest first."""
    if not result.events:
        return f"No timeline for “{result.topic}”: {result.reason}."
    lines = []
    for e in result.events:
        lines.append(f"{_date(e.published)}  {e.heading or e.title}")
        lines.append(textwrap.indent(textwrap.fill(f"“{e.quote}”", 92), "    "))
        if len(e.sources) > 1:
            also = "; ".join(f"{s.title} ({_date(s.published)})" for s in e.sources[1:])
            lines.append(textwrap.indent(textwrap.fill(f"also reported by: {also}", 92), "    "))
    return "\n".join(lines)


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _date(value: date | None) -> str:
    return value.isoformat() if value else "undated"


# ---- rag eval ---------------------------------------------------------------------------------


@cli.group(name="eval", invoke_without_command=True)
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
@click.option("--overwrite", is_flag=True, help="Replace a previous run in --out.")
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
    overwrite: bool,
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
    from rag.evaluate import evaluate
    from rag.report import text_summary

    out = out or Path("runs") / f"eval-{datetime.now():%Y%m%d-%H%M%S}"
    report = evaluate(
        assistant, questions, corpus=corpus, out=out, k=k, mode=mode,  # type: ignore[arg-type]
        limit=limit, types=types.split(",") if types else None, overwrite=overwrite,
        withhold_gold=withhold_gold, progress=not json_ and sys.stderr.isatty(),
    )  # fmt: skip
    if json_:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(text_summary(report))
    click.echo(f"\nreport: {out / 'report.html'}  (also report.md, metrics.json, "
               "predictions.jsonl)")  # fmt: skip


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
    from rag.evaluate import compare
    from rag.report import comparison_markdown

    try:
        result = compare(run_a, run_b)
    except RagError as ex:
        raise click.ClickException(str(ex)) from ex
    data, md = result.to_dict(), comparison_markdown(result)
    target = out or run_b
    target.mkdir(parents=True, exist_ok=True)
    (target / "compare.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")  # fmt: skip
    (target / "compare.md").write_text(md, encoding="utf-8")
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if json_ else md)
    if fail_on_regression and result.regressions:
        raise SystemExit(1)


@eval_.command(name="report")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
def eval_report(run: Path) -> None:
    """Redraw report.md and report.html of RUN from its metrics.json and predictions.jsonl."""
    from rag.evaluate import EvalReport

    try:
        paths = EvalReport.load(run).write(run)
    except RagError as ex:
        raise click.ClickException(str(ex)) from ex
    click.echo("\n".join(str(p) for p in paths))
