"""LangChain interop: our retrieval as a ``BaseRetriever``, our answer pipeline as a ``Runnable``.

So code written for any LangChain retriever or chain (LCEL ``|``, ``batch``, callbacks,
tracing) can use newsqa's hybrid retrieval and cited answers without knowing our types.
``Assistant.as_retriever`` and ``Assistant.as_runnable`` build these.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict

from rag.errors import InvalidQuestionError
from rag.types import Answer, AskOptions, Hit

QuestionInput = str | dict[str, Any]
# What a runnable's input dict may hold: the question and the options a caller may set.
_INPUT_KEYS = ("question", "history", "today", "since", "until", "k")


class Asks(Protocol):
    """What these adapters need of an ``Assistant`` (no import of it: no cycle)."""

    def ask(self, question: str, options: AskOptions | None = None, **overrides: Any) -> Answer:
        """Answer a question."""
        ...


class HybridRetriever(BaseRetriever):
    """newsqa's hybrid retrieval (dense + BM25, fused, date-aware) as a LangChain retriever.

    Each ``Document`` is one chunk: ``page_content`` is its text and ``metadata`` holds
    ``doc_id, title, url, published`` (ISO date or None), ``chunk_id, score`` (fused),
    ``dense, bm25, start, end, source``.

    ``invoke`` takes ``k``, ``today``, ``since`` and ``until`` as keywords too, for one call
    (``retriever.invoke(query, k=1)``), as LangChain's standard retriever tests expect.

    Example:
        >>> retriever = Assistant.from_config().as_retriever(k=4)
        >>> docs = retriever.invoke("Why did Ukraine want Patriot systems?")
        >>> docs[0].metadata["title"]
        'Zelenskiy says he discussed air defences with Trump, ...'
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    assistant: Any
    """The ``Assistant`` whose store and embedder are searched."""
    k: int | None = None
    """Chunks returned (default: the assistant's ``retrieve.k``)."""
    today: date | None = None
    """Search as of this date: later articles are never returned (default: the real date)."""
    since: date | None = None
    until: date | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        today: date | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[Document]:
        """The chunks for ``query``; keywords of ``invoke`` override the fields for one call."""
        hits = self.assistant.retrieve(
            query,
            k=k if k is not None else self.k,
            today=today or self.today,
            since=since or self.since,
            until=until or self.until,
        )
        return [to_document(hit) for hit in hits]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        today: date | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[Document]:
        """``_get_relevant_documents`` in a worker thread (BaseRetriever's would drop ``k``)."""
        return await run_in_executor(
            None,
            self._get_relevant_documents,
            query,
            run_manager=run_manager.get_sync(),
            k=k,
            today=today,
            since=since,
            until=until,
        )


def to_document(hit: Hit) -> Document:
    """A ``Hit`` as a LangChain ``Document`` (metadata values are JSON-friendly)."""
    return Document(
        id=hit.chunk_id,
        page_content=hit.text,
        metadata={
            "doc_id": hit.doc_id,
            "title": hit.title,
            "url": hit.url,
            "published": hit.published.isoformat() if hit.published else None,
            "chunk_id": hit.chunk_id,
            "score": hit.score,
            "dense": hit.dense,
            "bm25": hit.bm25,
            "start": hit.start,
            "end": hit.end,
            "source": hit.source,
        },
    )


def answer_runnable(assistant: Asks) -> Runnable[QuestionInput, Answer]:
    """``assistant.ask`` as a ``Runnable``: a question string, or a dict of ``ask``'s options.

    A dict holds ``question`` and optionally ``history`` (``[(question, answer), ...]``),
    ``today``/``since``/``until`` (dates or ISO strings) and ``k``. The output is our
    ``Answer``; token streaming stays ``Assistant.stream``, so ``.stream`` yields the
    finished ``Answer`` once (the chat model's tokens still reach LangChain callbacks).

    Example:
        >>> chain = Assistant.from_config().as_runnable()
        >>> chain.batch(["Why did Ukraine want Patriot systems?", {"question": "...", "k": 4}])
    """

    def ask(value: QuestionInput) -> Answer:
        question, options = _ask_options(value)
        return assistant.ask(question, options)

    return RunnableLambda(ask, name="newsqa")


def _ask_options(value: QuestionInput) -> tuple[str, AskOptions]:
    """Split a runnable's input into the question and its ``AskOptions``."""
    if isinstance(value, str):
        return value, AskOptions()
    if not isinstance(value, dict) or not isinstance(value.get("question"), str):
        raise InvalidQuestionError(
            "Input must be a question string or a dict with a 'question' string."
        )
    return value["question"], AskOptions.parse(value, allowed=_INPUT_KEYS)
