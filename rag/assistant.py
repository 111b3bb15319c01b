"""The ``Assistant`` facade: the one place that knows the order of the pipeline stages."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from tqdm.auto import tqdm

from rag import answer, chunk, context, embed, llm, retrieve, verify
from rag.config import Settings
from rag.errors import EmptyStoreError, InvalidQuestionError, RagError
from rag.ingest import LoadFailure, iter_load
from rag.store import Store, query_terms
from rag.types import Answer, Article, ArticleInfo, Chunk, Hit, IngestReport, Token

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
_INGEST_BATCH_CHUNKS = 256


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
                self._store = Store(self.settings.store_path, self.settings.store.collection)
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
        return str(getattr(model, "model_path", None) or getattr(model, "model_name", None)
                   or type(model).__name__)  # fmt: skip

    # ---- ingest ---------------------------------------------------------------------------

    def ingest(self, paths: Iterable[str | Path], progress: bool = False) -> IngestReport:
        """Load, chunk, embed and store articles; unchanged ones are not touched.

        Unreadable files are reported in ``IngestReport.failed`` and the rest goes on.
        """
        report = IngestReport()
        pending: list[tuple[Article, str, list[Chunk]]] = []
        seen: set[str] = set()
        bar = tqdm(desc="ingest", unit=" articles", disable=not progress)
        for item in iter_load(paths, max_file_bytes=self.settings.ingest.max_file_bytes):
            bar.update()
            if isinstance(item, LoadFailure):
                logger.warning("skipped %s: %s", item.path, item.reason)
                report.failed.append((item.path, item.reason))
                continue
            if item.doc_id in seen:
                report.failed.append((item.source, f"duplicate doc_id {item.doc_id!r}"))
                continue
            seen.add(item.doc_id)
            digest = self._content_hash(item)
            stored = self.store.content_hash(item.doc_id)
            if stored == digest:
                report.unchanged.append(item.doc_id)
                continue
            chunks = chunk.split_article(
                item, self.embedder.tokenizer, self.settings.chunk.max_tokens,
                self.settings.chunk.overlap_sentences,
            )  # fmt: skip
            if not chunks:
                report.failed.append((item.source, "no text to index"))
                continue
            (report.added if stored is None else report.updated).append(item.doc_id)
            pending.append((item, digest, chunks))
            if sum(len(c) for _, _, c in pending) >= _INGEST_BATCH_CHUNKS:
                report.chunks += self._write(pending)
                pending = []
        report.chunks += self._write(pending)
        bar.close()
        return report

    def _write(self, items: list[tuple[Article, str, list[Chunk]]]) -> int:
        if not items:
            return 0
        texts = [f"{a.title}\n{c.text}" for a, _, chunks in items for c in chunks]
        vectors = self.embedder.encode(texts)
        with self.store.writing():
            self.store.put(items, vectors)
        return len(texts)

    def _content_hash(self, article: Article) -> str:
        """Changes when the article or anything that shapes its chunks/vectors changes."""
        key = {
            "title": article.title, "text": article.text, "url": article.url,
            "published": article.published.isoformat() if article.published else None,
            "chunk": self.settings.chunk.model_dump(), "embed": self.settings.embed.model,
        }  # fmt: skip
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    def list_articles(self) -> list[ArticleInfo]:
        """Every article in the store, newest first."""
        return self.store.list_articles()

    def delete(self, doc_id: str) -> bool:
        """Remove an article and its chunks; False if there was no such article."""
        return self.store.delete(doc_id)

    # ---- ask ------------------------------------------------------------------------------

    def retrieve(
        self,
        question: str,
        *,
        k: int | None = None,
        today: date | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[Hit]:
        """The best chunks for ``question`` (no LLM call)."""
        question = _validated(question)
        today = today or date.today()
        until = min(until, today) if until else today
        return retrieve.search(
            self.store, self.embedder, question, self.settings.retrieve,
            retrieve.Filters(since=since, until=until), k=k,
        )  # fmt: skip

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer ``question`` from the stored articles, with citations (see ``stream``)."""
        result: Answer | None = None
        for event in self.stream(question, **options):
            if isinstance(event, Answer):
                result = event
        assert result is not None  # stream always ends with an Answer
        return result

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        today: date | None = None,
        since: date | None = None,
        until: date | None = None,
        history: Sequence[tuple[str, str]] | None = None,
    ) -> Iterator[Token | Answer]:
        """Yield ``Token``s of the answer as they are generated, then the final ``Answer``.

        ``today`` (default: the real date) is the date the question is asked on: relative
        dates resolve against it and articles published after it are never used.
        """
        question = _validated(question)
        if self.store.count() == 0:
            raise EmptyStoreError()
        self.embedder, self.llm  # load models before the clock starts  # noqa: B018
        started = time.perf_counter()
        today = today or date.today()
        standalone = self.condense(question, history) if history else None
        search_for = standalone or question
        hits = self.retrieve(search_for, k=k, today=today, since=since, until=until)
        timings = {"retrieve_s": round(time.perf_counter() - started, 4)}

        def finish(**fields: Any) -> Answer:
            timings["total_s"] = round(time.perf_counter() - started, 4)
            return Answer(question=question, retrieved=hits, timings=timings,
                          model=self.model_name, standalone_question=standalone,
                          **fields)  # fmt: skip

        best = max((h.dense or 0.0 for h in hits), default=0.0)
        if not hits or best < self.settings.retrieve.min_score:
            looked_for = ", ".join(query_terms(search_for)[:8])
            reason = (
                f"no article matched the question (searched for: {looked_for})" if not hits else
                f"no passage is close enough to the question (best similarity {best:.2f}, "
                f"needed {self.settings.retrieve.min_score:.2f}; searched for: {looked_for})"
            )  # fmt: skip
            yield finish(text=answer.ABSTAIN_TEXT, abstained=True, abstain_reason=reason)
            return

        passages = context.build(
            search_for, hits, self.embedder.encode, self._article_text,
            budget=self.settings.answer.context_tokens, anchors=self.settings.answer.passages,
            neighbours=self.settings.answer.neighbours, count=self._count_tokens,
        )  # fmt: skip
        chain = answer.make_chain(self.llm)
        pieces: list[str] = []
        for piece in answer.stream_text(chain, answer.chain_input(search_for, passages, today)):
            if not pieces:
                timings["ttft_s"] = round(time.perf_counter() - started, 4)
            pieces.append(piece)
            yield Token(piece)
        raw = "".join(pieces)
        if answer.is_refusal(raw):
            yield finish(
                text=answer.ABSTAIN_TEXT,
                abstained=True,
                abstain_reason="the model found no answer in the retrieved passages",
            )
            return
        checked = verify.verify(search_for, raw, passages, self.embedder.encode)
        if not checked.citations:
            reason = (
                "no sentence of the model's answer is supported by the retrieved passages"
                if checked.unsupported or not checked.restated
                else "the model only restated the question"
            )
            yield finish(text=answer.ABSTAIN_TEXT, abstained=True, abstain_reason=reason,
                         unsupported=checked.unsupported, grounded=False)  # fmt: skip
            return
        yield finish(text=checked.text, citations=checked.citations, grounded=checked.grounded,
                     unsupported=checked.unsupported)  # fmt: skip

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up ("and what did Germany do?") as a standalone question."""
        if not history or not self.settings.answer.condense:
            return question
        chain = answer.make_condense_chain(self.llm)
        text = chain.invoke({"history": answer.format_history(history), "question": question})
        return answer.clean_standalone(text, fallback=question)

    def _article_text(self, doc_id: str) -> str | None:
        stored = self.store.article(doc_id)
        return stored.text if stored else None

    def _count_tokens(self, text: str) -> int:
        """The LLM's own token count when we run it; a conservative estimate otherwise."""
        if isinstance(self._llm, llm.LlamaCppChat):
            return self._llm.get_num_tokens(text)
        return context.approx_tokens(text)


def _validated(question: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InvalidQuestionError("The question is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"The question is too long ({len(question):,} characters; at most "
            f"{MAX_QUESTION_CHARS:,})."
        )
    return question


__all__ = ["Assistant", "RagError"]
