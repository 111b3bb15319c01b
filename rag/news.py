"""The news-native answers, wired from the stages of the ask path (docs/news.md).

``Assistant`` calls these with itself (through ``Asks``: no import of it, no cycle):

- ``timeline``: retrieval across dates (no boost for recent articles) -> ``Evidence`` ->
  ``timeline.build`` (extractive, no model call) -> optional verified headings;
- ``stream_changes``: an ordinary answer as of ``since``, another as of today (only when
  an article published since matches), then ``changes.compare``;
- ``notes``: what every answer carries after verification: the disagreements that touch
  its citations (``disagree.cited``) and the freshness note (``freshness.note``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date, timedelta
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel

from rag import changes, disagree, freshness, retrieve, timeline
from rag.config import Settings
from rag.embed import Embedder
from rag.errors import EmptyStoreError, InvalidQuestionError
from rag.store import Store
from rag.types import (
    Answer,
    AskOptions,
    Changes,
    Citation,
    Encoder,
    Evidence,
    Hit,
    Passage,
    Timeline,
    Token,
)


class Asks(Protocol):
    """What these need of an ``Assistant``."""

    settings: Settings

    @property
    def store(self) -> Store:
        """The store."""
        ...

    @property
    def embedder(self) -> Embedder:
        """The embedding model."""
        ...

    @property
    def llm(self) -> BaseChatModel:
        """The chat model."""
        ...

    def stream(
        self,
        question: str,
        options: AskOptions | None = None,
        *,
        slot: AbstractContextManager[Any] | None = None,
        **overrides: Any,
    ) -> Iterator[Token | Answer]:
        """Stream an answer: ``Token``s, then the ``Answer``."""
        ...

    def retrieve(
        self, question: str, options: AskOptions | None = None, **overrides: Any
    ) -> list[Hit]:
        """Retrieve without the model."""
        ...


def timeline_of(
    assistant: Asks,
    topic: str,
    since: date | None,
    until: date | None,
    today: date,
    limit: int,
    headings: bool,
    slot: AbstractContextManager[Any] | None = None,
) -> Timeline:
    """The timeline of a (validated) ``topic`` as of ``today``: see ``Assistant.timeline``."""
    if assistant.store.count() == 0:
        raise EmptyStoreError()
    settings = assistant.settings
    wide = settings.retrieve.model_copy(update={"recent_days": 0})  # every date alike
    filters = retrieve.Filters(since=since, until=min(until, today) if until else today)
    k = settings.news.timeline_chunks
    hits, vector = retrieve.search_with_vector(
        assistant.store, assistant.embedder, topic, wide, filters, k=k
    )
    texts = retrieve.read_articles(assistant.store, hits)
    evidence = Evidence(topic, today, hits, texts, vector)
    encode = evidence.encoder(assistant.embedder.encode)
    found = timeline.build(evidence, encode, settings.news, limit=limit, since=since, until=until)
    if headings and found.events:
        with slot or contextlib.nullcontext():  # the chat model writes the headings
            return timeline.headings(found, assistant.llm, encode, settings.verify)
    return found


def stream_changes(
    assistant: Asks,
    question: str,
    since: date,
    options: AskOptions,
    slot: AbstractContextManager[Any] | None = None,
) -> Generator[Token | Answer | Changes, None, None]:
    """Answer as of ``since``, then as of ``options.today``, then say what changed.

    Yields the first answer's ``Token``s and ``Answer``, the second's, then ``Changes``. The
    first answer starts at once (its first token comes as fast as a normal answer's). When
    no article published after ``since`` matches the question (retrieval similarity below
    ``retrieve.min_score``), the second answer is the first (one model call).
    """
    today = options.today or date.today()
    if options.since or options.until:
        raise InvalidQuestionError(
            "What changed since a date answers as of two dates: leave out since and until."
        )
    if since >= today:
        raise InvalidQuestionError(
            f"The date to compare with ({since.isoformat()}) must be before today "
            f"({today.isoformat()})."
        )
    with contextlib.ExitStack() as held:

        @contextlib.contextmanager
        def shared() -> Iterator[None]:
            """``slot``, entered by whichever answer first calls the model, held to the end."""
            if slot is not None and not held_slot:
                held.enter_context(slot)
                held_slot.append(slot)
            yield

        held_slot: list[AbstractContextManager[Any]] = []
        before: Answer | None = None
        as_then = dataclasses.replace(options, today=since)
        for event in assistant.stream(question, as_then, slot=shared()):
            yield event
            before = event if isinstance(event, Answer) else before
        assert before is not None
        later = assistant.retrieve(question, today=today, since=since + timedelta(days=1))
        after: Answer | None = before
        if any((h.dense or 0.0) >= assistant.settings.retrieve.min_score for h in later):
            after = None
            as_now = dataclasses.replace(options, today=today)
            for event in assistant.stream(question, as_now, slot=shared()):
                yield event
                after = event if isinstance(event, Answer) else after
    assert after is not None
    encode = assistant.embedder.encode
    yield changes.compare(question, since, today, before, after, encode, assistant.settings.news)


def notes(
    assistant: Asks,
    evidence: Evidence,
    passages: Sequence[Passage],
    citations: Sequence[Citation],
    encode: Encoder,
) -> dict[str, Any]:
    """An answer's ``disagreements`` and ``freshness`` note, as ``Answer`` fields."""
    store, settings = assistant.store, assistant.settings

    def window(since: date, until: date) -> list[Hit]:
        """The articles closest to the question within dates (only for an old answer)."""
        filters = retrieve.Filters(since=since, until=until)
        return retrieve.nearest(store, evidence.vector, settings.retrieve, filters)

    def read(hit: Hit) -> str:
        return retrieve.read_articles(store, [hit])[hit.doc_id]

    news = settings.news
    return {
        "disagreements": disagree.cited(evidence, passages, citations, encode, news),
        "freshness": freshness.note(evidence, citations, window, read, news),
    }
