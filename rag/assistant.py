"""The ``Assistant`` facade: the one place that knows the order of the pipeline stages."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from rag import (
    answer,
    context,
    disagree,
    embed,
    gate,
    indexing,
    interop,
    llm,
    news,
    retrieve,
    text,
    verify,
)
from rag.config import Settings
from rag.errors import EmptyStoreError, InvalidQuestionError, RagError
from rag.gate import Refusal
from rag.ingest import stage_upload, upload_name
from rag.store import Store, StoredArticle, open_store
from rag.types import (
    Answer,
    ArticleInfo,
    AskOptions,
    Changes,
    Encoder,
    Evidence,
    Hit,
    IngestReport,
    Passage,
    Timeline,
    Token,
)

logger = logging.getLogger(__name__)


class Assistant:
    """Ingest articles, then answer questions about them with cited passages.

    Collaborators are built lazily from ``settings`` unless passed in (tests pass fakes).

    Example:
        >>> a = Assistant.from_config()
        >>> a.ingest(["seeds/"])
        >>> a.ask("Why did Ukraine want Patriot systems?").text
        "...to defend its cities from intensifying Russian air strikes [1]."
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: BaseChatModel | None = None,
        embedder: embed.Embedder | None = None,
        store: Store | None = None,
    ) -> None:
        """Wire the stages; nothing heavy is loaded until it is first needed."""
        self.settings = settings or Settings()
        self._llm = llm
        self._embedder = embedder
        self._store = store
        self._init_lock = threading.Lock()
        self._upload_lock = threading.Lock()

    @classmethod
    def from_config(cls, path: str | Path | None = None, **overrides: Any) -> Assistant:
        """Build from a TOML file (default ``configs/default.toml``); overrides per section."""
        return cls(Settings.from_toml(path, **overrides))

    # ---- collaborators, loaded on first use -----------------------------------------------

    @property
    def store(self) -> Store:
        """The store (opened on first use)."""
        with self._init_lock:
            if self._store is None:
                self._store = open_store(self.settings.store, self.settings.store_path)
        return self._store

    @property
    def embedder(self) -> embed.Embedder:
        """The embedding model (loaded on first use)."""
        with self._init_lock:
            if self._embedder is None:
                self._embedder = embed.load(self.settings.embed)
        return self._embedder

    @property
    def llm(self) -> BaseChatModel:
        """The chat model (loaded on first use)."""
        with self._init_lock:
            if self._llm is None:
                self._llm = llm.load(self.settings.llm)
        return self._llm

    @property
    def model_name(self) -> str:
        """A short name of the chat model, for answers and reports."""
        model = self._llm
        if model is None:
            return self.settings.llm.model
        path = getattr(model, "model_path", None)
        if path:  # the file's name: where it lives on this machine is nobody's business
            return Path(str(path)).name
        return str(getattr(model, "model_name", None) or type(model).__name__)

    @property
    def models_loaded(self) -> dict[str, bool]:
        """Which models are in memory (``rag serve`` loads them in the background)."""
        return {"embedder": self._embedder is not None, "llm": self._llm is not None}

    # ---- ingest ---------------------------------------------------------------------------

    def ingest(self, paths: Iterable[str | Path], progress: bool = False) -> IngestReport:
        """Load, chunk, embed and store articles; unchanged ones are not touched.

        Unreadable files are reported in ``IngestReport.failed`` and the rest goes on.
        """
        return indexing.index(paths, self.store, self.embedder, self.settings, progress)

    def ingest_upload(self, name: str, data: bytes | Path) -> tuple[Path, IngestReport]:
        """Ingest an uploaded file as ``<store>/uploads/<name>``; the file is removed after.

        Articles from files are identified by their path, so uploading a file with the same
        name again updates its articles instead of adding copies. The store keeps the
        articles' text, not the upload: deleting an article leaves no copy behind. Returns
        the path the articles were read from (failures name it).
        """
        folder = self.settings.store_path / "uploads"
        with self._upload_lock:  # two uploads of one name must not interleave
            dest = stage_upload(folder, upload_name(name), data)
            try:
                report = self.ingest([dest])
            finally:
                dest.unlink(missing_ok=True)
        return dest, report

    def list_articles(self) -> list[ArticleInfo]:
        """Every article in the store, newest first."""
        return self.store.list_articles()

    def delete(self, doc_id: str) -> bool:
        """Remove an article and its chunks; False if there was no such article."""
        return self.store.delete(doc_id)

    def article(self, doc_id: str) -> StoredArticle | None:
        """One stored article with its text, or None if there is no such article."""
        return self.store.article(doc_id)

    def count_chunks(self) -> int:
        """How many chunks the store holds."""
        return self.store.count()

    # ---- LangChain interop ----------------------------------------------------------------

    def as_retriever(self, **overrides: Any) -> interop.HybridRetriever:
        """Our hybrid retrieval as a LangChain ``BaseRetriever``, for use in any LCEL chain.

        ``overrides`` (``k``, ``today``, ``since``, ``until``) replace the defaults.

        Example:
            >>> docs = a.as_retriever(k=4).invoke("Patriot missiles")
        """
        return interop.HybridRetriever(assistant=self, **overrides)

    def as_runnable(self) -> Runnable[interop.QuestionInput, Answer]:
        """The whole answer pipeline as a LangChain ``Runnable``: question (or dict) -> Answer.

        Example:
            >>> a.as_runnable().batch(["Why did Ukraine want Patriot systems?"])
        """
        return interop.answer_runnable(self)

    # ---- ask ------------------------------------------------------------------------------

    def retrieve(
        self, question: str, options: AskOptions | None = None, **overrides: Any
    ) -> list[Hit]:
        """The best chunks for ``question`` (no LLM call); options as for ``stream``."""
        options = AskOptions.of(options, **overrides).checked()
        return self._search(self._validated(question), options)[0]

    def ask(
        self,
        question: str,
        options: AskOptions | None = None,
        *,
        slot: AbstractContextManager[Any] | None = None,
        **overrides: Any,
    ) -> Answer:
        """Answer ``question`` from the stored articles, with citations (see ``stream``)."""
        result: Answer | None = None
        for event in self.stream(question, options, slot=slot, **overrides):
            if isinstance(event, Answer):
                result = event
        assert result is not None  # stream always ends with an Answer
        return result

    def stream(
        self,
        question: str,
        options: AskOptions | None = None,
        *,
        slot: AbstractContextManager[Any] | None = None,
        **overrides: Any,
    ) -> Generator[Token | Answer, None, None]:
        """Yield ``Token``s of the answer as they are generated, then the final ``Answer``.

        ``options`` (or the same as keywords: ``k``, ``today``, ``since``, ``until``,
        ``history``, ``exclude``) are described by ``AskOptions``. ``slot`` is entered just
        before the chat model first runs for this question and left when the stream ends:
        a server passes its model slot, so that a question refused before the model (or
        invalid) never takes one. It may raise (``ModelBusyError``) or wait.

        Example:
            >>> for event in a.stream("When did the bridge open?", k=4):
            ...     print(event.text if isinstance(event, Token) else event.citations)
        """
        with contextlib.ExitStack() as held:
            entered: list[AbstractContextManager[Any]] = []

            def use_model() -> None:
                if slot is not None and not entered:
                    held.enter_context(slot)
                    entered.append(slot)

            checked = AskOptions.of(options, **overrides).checked()
            yield from self._stream(question, checked, use_model)

    def _stream(
        self, question: str, options: AskOptions, use_model: Callable[[], None]
    ) -> Iterator[Token | Answer]:
        """``stream``; ``use_model()`` is called before every call of the chat model."""
        question = self._validated(question)
        if self.store.count() == 0:
            raise EmptyStoreError()
        self.embedder, self.llm  # load models before the clock starts  # noqa: B018
        answer.check_fits(self._llm, self.settings, question)
        started = time.perf_counter()
        today = options.today or date.today()
        standalone = None
        if options.history:
            if self.settings.answer.condense:
                use_model()
            standalone = self.condense(question, options.history)
        hits, vector = self._search(standalone or question, options)
        evidence = self._evidence(standalone or question, today, hits, vector)
        timings = {"retrieve_s": round(time.perf_counter() - started, 4)}
        passages: list[Passage] = []  # set once the model is about to read them

        def finish(
            passages: Sequence[Passage] = (), refusal: Refusal | None = None, **fields: Any
        ) -> Answer:
            timings["total_s"] = round(time.perf_counter() - started, 4)
            if refusal is not None:
                fields = {
                    "text": answer.ABSTAIN_TEXT,
                    "abstained": True,
                    "abstain_reason": refusal.reason,
                    "unsupported": refusal.unsupported,
                    "grounded": refusal.grounded,
                }
            return Answer(
                question=question,
                retrieved=hits,
                timings=timings,
                model=self.model_name,
                standalone_question=standalone,
                passages=list(passages),
                **fields,
            )

        if refusal := gate.before(evidence, self.settings, self._term_shares):
            yield finish(refusal=refusal)
            return
        # A time-relative question is answered from the recent articles only, when there are any.
        read = hits
        if self.settings.gate.fresh_only:
            read = gate.fresh(evidence.question, hits, today, self.settings.gate)
        shown = evidence.with_hits(read)
        encode = evidence.encoder(self.embedder.encode)
        passages = self._passages(shown, encode)
        use_model()
        chain = answer.make_chain(self.llm)
        pieces: list[str] = []
        inputs = answer.chain_input(evidence.question, passages, today)
        for piece in answer.stream_text(chain, inputs):
            if not pieces:
                timings["ttft_s"] = round(time.perf_counter() - started, 4)
            pieces.append(piece)
            yield Token(piece)
        checked = self._verified(evidence, "".join(pieces), passages, encode)
        refusal = gate.after(evidence, checked, self.settings, self._term_shares)
        retry_started = time.perf_counter()
        if refusal and (retry := self._retry(shown, checked, passages, encode)):
            # One more try, only after a refusal for what the model said, not for what the
            # articles are (``_retry``); its time includes choosing the next-best passages.
            use_model()
            prompt, reread = retry
            reply = chain.invoke(answer.chain_input(prompt, reread, today))
            second = self._verified(evidence, reply, reread, encode)
            timings["retry_s"] = round(time.perf_counter() - retry_started, 4)
            if not gate.after(evidence, second, self.settings, self._term_shares):
                checked, refusal, passages = second, None, reread
        if refusal:
            yield finish(passages, refusal)
            return
        assert checked is not None  # gate.after refuses a declined reply
        yield finish(
            passages,
            text=checked.text,
            citations=checked.citations,
            grounded=checked.grounded,
            unsupported=checked.unsupported,
            **news.notes(self, evidence, passages, checked.citations, encode),
        )

    # ---- news-native answers -------------------------------------------------------------

    def timeline(
        self,
        topic: str,
        since: date | None = None,
        until: date | None = None,
        today: date | None = None,
        limit: int = 12,
        headings: bool = False,
        *,
        slot: AbstractContextManager[Any] | None = None,
    ) -> Timeline:
        """The events of a story, oldest first: exact sentences, no LLM call (docs/news.md).

        ``today`` hides later articles; ``headings``: one verified LLM heading per event
        (``slot``, as for ``stream``, is held while the chat model writes them).

        Example:
            >>> [(e.published, e.quote) for e in a.timeline("Castlemere dock strike").events]
        """
        topic = self._validated(topic)
        AskOptions(today=today, since=since, until=until).checked()  # the dates of answers
        today = today or date.today()
        return news.timeline_of(self, topic, since, until, today, limit, headings, slot)

    def changes(
        self,
        question: str,
        since: date,
        today: date | None = None,
        *,
        slot: AbstractContextManager[Any] | None = None,
        **overrides: Any,
    ) -> Changes:
        """What changed since ``since``: answers as of then and as of ``today``, and the change.

        Example:
            >>> c = a.changes("Is the Castlemere dock strike still on?", date(2025, 6, 3))
            >>> c.before.text, c.after.text, c.difference
        """
        result = None
        # Run to the end: the stream leaves the model slot only when it is finished.
        with contextlib.closing(
            self.stream_changes(question, since, today=today, slot=slot, **overrides)
        ) as events:
            for event in events:
                result = event if isinstance(event, Changes) else result
        assert result is not None  # stream_changes always ends with Changes
        return result

    def stream_changes(
        self,
        question: str,
        since: date,
        options: AskOptions | None = None,
        *,
        slot: AbstractContextManager[Any] | None = None,
        **overrides: Any,
    ) -> Generator[Token | Answer | Changes, None, None]:
        """The ``Token``s and ``Answer`` as of ``since``, those as of ``today``, then ``Changes``.

        ``options`` as for ``stream``, but no ``since``/``until``; see ``news.stream_changes``.
        ``slot`` as for ``stream``: entered when the chat model first runs, held for both
        answers, left when the stream ends.
        """
        options = AskOptions.of(options, **overrides)
        return news.stream_changes(self, question, since, options, slot)

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up ("and what did Germany do?") as a standalone question."""
        if not history or not self.settings.answer.condense:
            return question
        # Earlier turns are context, not the question: a stray surrogate in one is replaced.
        history = [(text.without_surrogates(q), text.without_surrogates(a)) for q, a in history]
        chain = answer.make_condense_chain(self.llm)
        fixed = answer.CONDENSE_TEMPLATE.format(history="", question=question)
        room = answer.prompt_room(self._llm, self.settings, answer.CONDENSE_SYSTEM, fixed)
        history_text = answer.format_history(
            history,
            self.settings.answer.history_chars,
            max_tokens=room,
            count=answer.count_tokens(self._llm),
        )
        reply = chain.invoke({"history": history_text, "question": question})
        return answer.clean_standalone(reply, fallback=question)

    def _verified(
        self, evidence: Evidence, reply: str, passages: Sequence[Passage], encode: Encoder
    ) -> verify.Verified | None:
        """The reply checked against the passages; None when the model declined."""
        if gate.declined(reply):
            return None
        return verify.verify(evidence.question, reply, passages, encode, self.settings.verify)

    def _passages(
        self, shown: Evidence, encode: Encoder, exclude: Sequence[Passage] = ()
    ) -> list[Passage]:
        """The passages the model reads (none of ``exclude``), within the prompt's budget."""
        passages = context.build(
            shown,
            encode,
            budget=answer.passage_budget(self._llm, self.settings, shown.question, shown.today),
            anchors=self.settings.answer.passages,
            neighbours=self.settings.answer.neighbours,
            shortlist=self.settings.answer.shortlist,
            count=answer.count_tokens(self._llm),
            exclude=exclude,
        )
        # For a question about now, a sentence a newer report disputes gives way to it.
        return disagree.screen(shown, passages, encode, self.settings.news)

    def _retry(
        self,
        shown: Evidence,
        checked: verify.Verified | None,
        passages: Sequence[Passage],
        encode: Encoder,
    ) -> tuple[str, list[Passage]] | None:
        """The prompt and passages of a second try at a refused answer, when it earns one.

        After a reply the passages did not support, or a "don't know", the model reads the
        next-best passages (``answer.look_further``): what it was shown did not hold the
        answer. After a reply that restated or did not answer, it reads the same passages
        when one of them holds a candidate of the kind asked. Either way the question is
        followed by what the answer must give (``RETRY_TEMPLATE``), when the kind is known.
        """
        retry, look_further = self.settings.answer.retry, self.settings.answer.look_further
        if not retry or (checked is not None and checked.citations):
            return None
        question = shown.question
        kind = text.asked_kind(question)
        prompt = question
        if kind:
            prompt = answer.RETRY_TEMPLATE.format(question=question, wanted=text.WANTED[kind])
        missed = checked is None or bool(checked.unsupported)
        if missed and look_further and (further := self._passages(shown, encode, passages)):
            return prompt, further
        if checked is not None and kind and verify.has_candidate(question, passages, kind):
            return prompt, list(passages)
        return None

    def _search(self, question: str, options: AskOptions) -> tuple[list[Hit], np.ndarray]:
        """Retrieval for a validated question: the hits and the question's vector."""
        today = options.today or date.today()
        until = min(options.until, today) if options.until else today
        filters = retrieve.Filters(since=options.since, until=until, exclude=options.exclude)
        return retrieve.search_with_vector(
            self.store, self.embedder, question, self.settings.retrieve, filters, k=options.k
        )

    def _evidence(
        self, question: str, today: date, hits: list[Hit], vector: np.ndarray
    ) -> Evidence:
        """The hits with their articles' texts, each article read once."""
        return Evidence(question, today, hits, retrieve.read_articles(self.store, hits), vector)

    def _term_shares(self, terms: Sequence[str]) -> dict[str, float]:
        """The share of the stored chunks that hold each term."""
        total = max(self.store.count(), 1)
        return {term: rows / total for term, rows in self.store.term_rows(terms).items()}

    def _validated(self, question: str) -> str:
        question = " ".join((question or "").split())
        if not question:
            raise InvalidQuestionError("The question is empty.")
        if text.has_surrogates(question):
            raise InvalidQuestionError(
                "The question is not valid text (it holds an undecodable byte or a lone "
                "surrogate such as \\ud800): type it again."
            )
        limit = self.settings.answer.max_question_chars
        if len(question) > limit:
            raise InvalidQuestionError(
                f"The question is too long ({len(question):,} characters; at most {limit:,})."
            )
        return question


__all__ = ["Assistant", "RagError"]
