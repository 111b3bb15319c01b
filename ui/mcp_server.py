"""newsqa as an MCP server: the tools are defined once, in ``build_mcp(assistant)``.

``rag mcp`` serves them over stdio (for desktop agents); ``rag serve`` mounts them at
``/mcp`` over streamable HTTP, behind the same guard, token and body limit as the REST API
(``ui.server``). Built on the official ``mcp`` SDK (``MCPServer``).

Tools (typed input schemas, structured output):

* ``search(query, k, since, until, today)``: retrieval only, no LLM: chunks with doc id,
  title, date, url and text;
* ``ask(question, today, since, until, k)``: the verified answer with ``[n]`` markers, its
  citations (exact quotes with offsets into the article) or the reason it abstained;
* ``list_articles(limit, offset)``: the stored articles, newest first;
* ``get_article(doc_id)``: one article's text and metadata;
* ``ingest_text(records)``: add or update articles, offered only when ``[serve] mcp_write``
  is true.

Expected failures (an unknown doc id, an empty question, an empty store, a busy model) are
tool errors (``isError: true`` with the message), never a crash of the server.

Example:
    >>> build_mcp(Assistant.from_config()).run("stdio")
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from rag import Assistant
from rag.errors import RagError
from rag.types import Answer, AskOptions
from ui.api import ModelSlots, Record

logger = logging.getLogger(__name__)

RECORDS_NAME = "mcp-records.jsonl"
INSTRUCTIONS = (
    "newsqa answers questions from a local store of news articles. Use `ask` for an answer "
    "whose every claim cites an exact sentence of an article ([n] markers, quotes in "
    "`citations`), or that abstains with the reason when the articles don't say. Use "
    "`search` to see the passages themselves, `list_articles` and `get_article` to browse. "
    "Dates are YYYY-MM-DD; `today` answers as of that date (later articles are not used)."
)
T = TypeVar("T")

Day = Annotated[date | None, Field(description="A date, YYYY-MM-DD.")]


# ---- what the tools return -------------------------------------------------------------------


class Chunk(BaseModel):
    """One retrieved passage of an article."""

    doc_id: str = Field(description="The article's id (for get_article).")
    chunk_id: str
    title: str
    published: date | None = Field(description="The article's publication date.")
    url: str | None
    text: str = Field(description="The passage.")
    score: float = Field(description="Fused retrieval score (higher is better).")


class SearchResult(BaseModel):
    """The best passages for a query, best first."""

    chunks: list[Chunk]


class Quote(BaseModel):
    """The exact article sentence behind one ``[n]`` marker of the answer."""

    n: int = Field(description="The marker [n] in the answer.")
    doc_id: str
    title: str
    published: date | None
    url: str | None
    quote: str = Field(description="The article's exact words: article_text[start:end].")
    start: int
    end: int


class AskResult(BaseModel):
    """A verified answer with its citations, or an abstention with the reason."""

    answer: str = Field(description="The answer with [n] markers (or the abstention).")
    abstained: bool
    abstain_reason: str | None = Field(description="Why there is no answer, if there is none.")
    citations: list[Quote]


class ArticleSummary(BaseModel):
    """One stored article, without its text."""

    doc_id: str
    title: str
    published: date | None
    url: str | None
    chunks: int


class ArticleList(BaseModel):
    """A page of the stored articles, newest first."""

    total: int = Field(description="How many articles the store holds.")
    articles: list[ArticleSummary]


class Article(BaseModel):
    """One article: its text and metadata."""

    doc_id: str
    title: str
    published: date | None
    url: str | None
    source: str = Field(description="Where it was ingested from.")
    text: str


class Failure(BaseModel):
    """A record that could not be ingested."""

    where: str
    reason: str


class IngestResult(BaseModel):
    """What ingest_text did, by doc_id."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]
    failed: list[Failure]
    chunks: int = Field(description="Chunks written.")


# ---- the server ------------------------------------------------------------------------------


def build_mcp(
    assistant: Assistant, *, write: bool | None = None, slots: ModelSlots | None = None
) -> MCPServer:
    """The MCP server over ``assistant``: ``search``, ``ask``, ``list_articles``, ``get_article``.

    Args:
        assistant: Answers, searches and lists.
        write: Offer ``ingest_text`` (default: ``[serve] mcp_write``).
        slots: Model slots shared with the other doors of ``rag serve`` (``ask`` takes one, or
            fails with "busy"); none over stdio, where one client asks one thing at a time.

    Example:
        >>> server = build_mcp(assistant)
        >>> server.run("stdio")  # or mount server.streamable_http_app() in an ASGI app
    """
    settings = assistant.settings
    write = settings.serve.mcp_write if write is None else write
    server: MCPServer = MCPServer(
        "newsqa",
        title="newsqa: cited answers from news articles",
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` in a worker thread; our errors become tool errors the agent can read."""
        try:
            return await run_in_threadpool(functools.partial(fn, **kwargs), *args)
        except RagError as ex:  # "busy" too, when the model slots are taken
            raise ToolError(str(ex)) from ex

    @server.tool(annotations=read_only)
    async def search(
        query: Annotated[str, Field(description="What to look for, in plain words.")],
        k: Annotated[int, Field(ge=1, le=20, description="Passages to return.")] = 8,
        since: Day = None,
        until: Day = None,
        today: Day = None,
    ) -> SearchResult:
        """Find the passages of the stored articles that best match a query (no LLM, fast).

        Hybrid search (meaning and keywords), at most two passages per article. ``since`` and
        ``until`` limit publication dates; ``today`` leaves out articles published after it.
        """
        options = AskOptions(k=k, today=today, since=since, until=until)
        hits = await run(assistant.retrieve, query, options)
        return SearchResult(
            chunks=[
                Chunk(
                    doc_id=h.doc_id,
                    chunk_id=h.chunk_id,
                    title=h.title,
                    published=h.published,
                    url=h.url,
                    text=h.text,
                    score=round(h.score, 6),
                )
                for h in hits
            ]
        )

    @server.tool(annotations=read_only)
    async def ask(
        question: Annotated[str, Field(description="The question, in plain words.")],
        today: Annotated[
            date | None,
            Field(description="Answer as of this date, YYYY-MM-DD (default: today)."),
        ] = None,
        since: Day = None,
        until: Day = None,
        k: Annotated[int | None, Field(ge=1, le=20, description="Passages to use.")] = None,
    ) -> AskResult:
        """Answer a question from the stored articles, citing the exact sentence behind each claim.

        The answer carries [n] markers; ``citations`` gives, for each n, the article and its
        exact words (``quote`` = article text[start:end]). When the articles don't support
        an answer, ``abstained`` is true and ``abstain_reason`` says why: report that, do not
        guess. Takes a few seconds (a local LLM writes the answer).
        """
        options = AskOptions(k=k, today=today, since=since, until=until)
        # The model slot is taken only if the model runs (not for a refused question).
        slot = slots.slot() if slots is not None else None
        answer: Answer = await run(assistant.ask, question, options, slot=slot)
        return AskResult(
            answer=answer.text,
            abstained=answer.abstained,
            abstain_reason=answer.abstain_reason,
            citations=[
                Quote(
                    n=c.n,
                    doc_id=c.doc_id,
                    title=c.title,
                    published=c.published,
                    url=c.url,
                    quote=c.quote,
                    start=c.start,
                    end=c.end,
                )
                for c in answer.citations
            ],
        )

    @server.tool(annotations=read_only)
    async def list_articles(
        limit: Annotated[int, Field(ge=1, le=1000, description="Articles to return.")] = 100,
        offset: Annotated[int, Field(ge=0, description="Articles to skip (newest first).")] = 0,
    ) -> ArticleList:
        """List the stored articles, newest first: doc_id, title, date, url, chunk count."""
        articles = await run(assistant.list_articles)
        return ArticleList(
            total=len(articles),
            articles=[
                ArticleSummary(
                    doc_id=a.doc_id,
                    title=a.title,
                    published=a.published,
                    url=a.url,
                    chunks=a.chunks,
                )
                for a in articles[offset : offset + limit]
            ],
        )

    @server.tool(annotations=read_only)
    async def get_article(
        doc_id: Annotated[str, Field(description="The article's id (from search or ask).")],
    ) -> Article:
        """Read one stored article: its full text and metadata."""
        stored = await run(assistant.article, doc_id)
        if stored is None:
            raise ToolError(f"No such article: {doc_id!r}. list_articles shows the stored ones.")
        return Article(
            doc_id=stored.doc_id,
            title=stored.title,
            published=stored.published,
            url=stored.url,
            source=stored.source,
            text=stored.text,
        )

    if write:

        @server.tool(annotations=ToolAnnotations(destructive_hint=False, open_world_hint=False))
        async def ingest_text(
            records: Annotated[
                list[Record],
                Field(min_length=1, max_length=1000, description="The articles to store."),
            ],
        ) -> IngestResult:
            """Add articles to the store (or update them: a record with a known doc_id replaces it).

            Each record has ``title`` and ``text``, and optionally ``doc_id``, ``url`` and
            ``published`` (YYYY-MM-DD). They can be searched and asked about at once.
            """
            lines = (
                json.dumps(r.model_dump(exclude_none=True), ensure_ascii=False) for r in records
            )
            data = "\n".join(lines).encode()
            _, report = await run(assistant.ingest_upload, RECORDS_NAME, data)
            return IngestResult(
                added=report.added,
                updated=report.updated,
                unchanged=report.unchanged,
                failed=[Failure(where=RECORDS_NAME, reason=r) for _, r in report.failed],
                chunks=report.chunks,
            )

    return server
