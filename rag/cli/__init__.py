"""The ``rag`` command line: thin commands over ``Assistant``.

``options.py`` builds the assistant from the shared options, ``render.py`` prints answers
and timelines, ``eval.py`` holds ``rag eval``.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from datetime import date, datetime

import click

from rag.assistant import Assistant
from rag.cli.eval import eval_
from rag.cli.options import DATE, assistant_options, day, iso
from rag.cli.render import render, render_timeline
from rag.types import Answer, AskOptions, Changes, Token


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
@click.option(
    "--since-then",
    "since_then",
    type=DATE,
    metavar="DATE",
    help="Also answer as of DATE and say what changed since (two answers).",
)
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

    With --since-then DATE: the answer as of DATE, the answer as of --today, and what
    changed between them (--json prints both answers and the change).

    \b
        rag ask "Why did Ukraine want Patriot systems?"
        rag ask --json --today 2022-09-15 "Which goal did Biden announce?"
        rag ask --since-then 2025-06-07 "Is the Castlemere dock strike still on?"
    """
    if since_then is not None and (since or until):
        raise click.UsageError("--since-then answers as of two dates: drop --since/--until.")
    options = AskOptions(k, day(today), day(since), day(until))
    events: Iterator[Token | Answer | Changes]
    if since_then is not None:
        events = assistant.stream_changes(question, since_then.date(), options)
        days = [since_then.date(), day(today) or date.today()]
        if not json_:
            click.echo(f"As of {days.pop(0).isoformat()}:")
    else:
        events, days = assistant.stream(question, options), []
    for event in events:
        if isinstance(event, Token):
            if not json_:
                click.echo(event.text, nl=False)
        elif json_ and (isinstance(event, Changes) or since_then is None):
            click.echo(json.dumps(event.to_dict(), indent=2, ensure_ascii=False))
        elif isinstance(event, Changes):
            click.echo(f"What changed: {event.difference}")
        elif not json_:
            click.echo("\r\033[K" if sys.stdout.isatty() else "\n", nl=False)
            click.echo(render(event) + ("\n" if since_then else ""))
            if days:
                click.echo(f"As of {days.pop(0).isoformat()}:")


@cli.command()
@click.argument("topic")
@click.option("--since", type=DATE, help="Only articles published on or after this date.")
@click.option("--until", type=DATE, help="Only articles published on or before this date.")
@click.option("--today", type=DATE, help="As of this date (YYYY-MM-DD): later articles are hidden.")
@click.option(
    "--limit",
    type=click.IntRange(1, 100),
    default=12,
    show_default=True,
    help="At most this many events (the best matching).",
)
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
        topic, day(since), day(until), day(today), limit=limit, headings=headings
    )
    if json_:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_timeline(result))


@cli.command()
@click.argument("question")
@click.option(
    "-k", type=click.IntRange(1, 50), default=8, show_default=True, help="Number of chunks."
)
@click.option("--today", type=DATE, help="Search as of this date (YYYY-MM-DD).")
@click.option("json_", "--json", is_flag=True, help="Print the hits as JSON.")
@assistant_options
def search(
    assistant: Assistant, question: str, k: int, today: datetime | None, json_: bool
) -> None:
    """Show the chunks retrieved for QUESTION (no LLM call)."""
    hits = assistant.retrieve(question, k=k, today=day(today))
    if json_:
        rows = [
            {
                "chunk_id": h.chunk_id,
                "doc_id": h.doc_id,
                "title": h.title,
                "score": h.score,
                "dense": h.dense,
                "bm25": h.bm25,
                "text": h.text,
            }
            for h in hits
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for i, h in enumerate(hits, 1):
        dense = f"{h.dense:.2f}" if h.dense is not None else "-"
        click.echo(f"{i}. {h.title} ({iso(h.published)}) dense={dense} [{h.chunk_id}]")
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
                "published": iso(a.published),
                "url": a.url,
                "source": a.source,
                "chunks": a.chunks,
            }
            for a in articles
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for a in articles:
        click.echo(f"{a.doc_id}\t{iso(a.published)}\t{a.chunks}\t{a.title}")
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
    from ui.server import serve as serve_app  # gradio is imported only here

    if assistant.settings.llm.provider == "llama":
        # Before anything listens: a model library that crashes on this CPU is one clear
        # line here, not a server whose first question kills it.
        from rag import llm, probe

        probe.ensure_model_runs(llm.model_path(assistant.settings.llm))
    if ingest_paths:
        click.echo(str(assistant.ingest(ingest_paths, progress=sys.stderr.isatty())))
    serve_app(assistant, host=host, port=port)


@cli.command()
@assistant_options
def mcp(assistant: Assistant) -> None:
    """Serve the MCP tools over stdio, for desktop agents and other MCP clients.

    Tools: search, ask, list_articles, get_article, and ingest_text when [serve] mcp_write
    is true in the config. `rag serve` offers the same tools over HTTP at /mcp.

    \b
        {"mcpServers": {"newsqa": {"command": "rag", "args": ["mcp"]}}}
    """
    from ui.mcp_server import build_mcp  # the MCP SDK is imported only here

    if assistant.settings.llm.provider == "llama":
        from rag import llm, probe  # as for serve: a model that crashes is one clear line

        probe.ensure_model_runs(llm.model_path(assistant.settings.llm))
    build_mcp(assistant).run("stdio")


cli.add_command(eval_)

__all__ = ["cli", "render", "render_timeline"]
