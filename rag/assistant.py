"""The ``Assistant`` facade: the one place that knows the order of the pipeline stages."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from tqdm.auto import tqdm

from rag import answer, chunk, context, disagree, embed, freshness, interop, llm, retrieve, verify
from rag.changes import compare as compare_answers
from rag.config import Settings
from rag.errors import EmptyStoreError, InvalidQuestionError, RagError
from rag.ingest import LoadFailure, iter_load
from rag.store import Store, open_store, query_terms
from rag.timeline import build as build_timeline
from rag.timeline import headings as timeline_headings
from rag.types import (
    Answer,
    Article,
    ArticleInfo,
    Changes,
    Chunk,
    Citation,
    Hit,
    IngestReport,
    Passage,
    Timeline,
    Token,
)

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
# Tokens of the context kept free besides the answer's max_tokens: the chat template's markup
# and the passage frames that token estimates leave out.
PROMPT_MARGIN = 64
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
        return str(getattr(model, "model_path", None) or getattr(model, "model_name", None)
                   or type(model).__name__)  # fmt: skip

    @property
    def models_loaded(self) -> dict[str, bool]:
        """Which models are in memory (``rag serve`` loads them in the background)."""
        return {"embedder": self._embedder is not None, "llm": self._llm is not None}

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

    def ingest_upload(self, name: str, data: bytes | Path) -> tuple[Path, IngestReport]:
        """Keep an uploaded file as ``<store>/uploads/<name>`` and ingest it from there.

        Articles from files are identified by their path, so uploading a file with the same
        name again updates its articles instead of adding copies. If nothing in the file
        could be read, the previous copy is put back. Returns where the file is kept.
        """
        folder = self.settings.store_path / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / upload_name(name)
        with self._upload_lock:  # two uploads of one name must not interleave
            previous = dest.read_bytes() if dest.is_file() else None
            if isinstance(data, Path):
                shutil.copyfile(data, dest)
            else:
                dest.write_bytes(data)
            report = self.ingest([dest])
            if not (report.added or report.updated or report.unchanged):
                if previous is None:
                    dest.unlink(missing_ok=True)
                else:
                    dest.write_bytes(previous)
        return dest, report

    def list_articles(self) -> list[ArticleInfo]:
        """Every article in the store, newest first."""
        return self.store.list_articles()

    def delete(self, doc_id: str) -> bool:
        """Remove an article and its chunks; False if there was no such article."""
        return self.store.delete(doc_id)

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
        self,
        question: str,
        *,
        k: int | None = None,
        today: date | None = None,
        since: date | None = None,
        until: date | None = None,
        exclude: Iterable[str] = (),
    ) -> list[Hit]:
        """The best chunks for ``question`` (no LLM call)."""
        question = _validated(question)
        today = today or date.today()
        until = min(until, today) if until else today
        return retrieve.search(
            self.store, self.embedder, question, self.settings.retrieve,
            retrieve.Filters(since=since, until=until, exclude=frozenset(exclude)), k=k,
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
        exclude: Iterable[str] = (),
    ) -> Iterator[Token | Answer]:
        """Yield ``Token``s of the answer as they are generated, then the final ``Answer``.

        ``today`` (default: the real date) is the date the question is asked on: relative
        dates resolve against it and articles published after it are never used.
        ``exclude`` names articles (doc_ids) that must not be used.
        """
        question = _validated(question)
        if self.store.count() == 0:
            raise EmptyStoreError()
        self.embedder, self.llm  # load models before the clock starts  # noqa: B018
        self._check_fits(question)
        started = time.perf_counter()
        today = today or date.today()
        standalone = self.condense(question, history) if history else None
        search_for = standalone or question
        hits = self.retrieve(
            search_for, k=k, today=today, since=since, until=until, exclude=exclude
        )
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

        if off_scope := self._off_scope(search_for, hits, today):
            yield finish(text=answer.ABSTAIN_TEXT, abstained=True, abstain_reason=off_scope)
            return

        # A time-relative question is answered from the recent articles only, when there are any.
        recent = verify.fresh(search_for, hits, today)
        passages = context.build(
            search_for, recent, self.embedder.encode, self._article_text,
            budget=self._passage_budget(search_for, today), anchors=self.settings.answer.passages,
            neighbours=self.settings.answer.neighbours, count=self._count_tokens,
        )  # fmt: skip
        passages = disagree.screen(
            search_for, passages, recent, self.embedder.encode, self._article_text,
            self.settings.news,
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
        cited = [h for h in hits if h.doc_id in {c.doc_id for c in checked.citations}]
        if off_scope := self._off_scope(search_for, cited, today, cited=True):
            yield finish(text=answer.ABSTAIN_TEXT, abstained=True, abstain_reason=off_scope,
                         unsupported=[checked.text], grounded=False)  # fmt: skip
            return
        yield finish(text=checked.text, citations=checked.citations, grounded=checked.grounded,
                     unsupported=checked.unsupported,
                     **self._news_notes(search_for, today, hits, passages,
                                        checked.citations))  # fmt: skip

    def _news_notes(
        self, question: str, today: date, hits: Sequence[Hit], passages: Sequence[Passage],
        citations: Sequence[Citation],
    ) -> dict[str, Any]:  # fmt: skip
        """An answer's ``disagreements`` and ``freshness`` note (docs/news.md)."""

        def newer(since: date, until: date) -> list[Hit]:
            return self.retrieve(question, today=today, since=since, until=until)

        note = freshness.note(question, citations, hits, today, newer, self._article_text,
                              self.settings.news)  # fmt: skip
        found = disagree.cited(passages, hits, citations, self.embedder.encode,
                               self._article_text, self.settings.news)  # fmt: skip
        return {"disagreements": found, "freshness": note}

    # ---- news-native answers ----------------------------------------------------------------

    def timeline(
        self,
        topic: str,
        since: date | None = None,
        until: date | None = None,
        today: date | None = None,
        limit: int = 12,
        headings: bool = False,
    ) -> Timeline:
        """The events of a developing story, oldest first: exact sentences, no LLM call.

        ``since``/``until`` bound the articles' dates, ``today`` (default: the real date)
        hides later articles, ``limit`` keeps the best-matching events. With ``headings``
        the LLM writes a one-line heading per event, verified against its sentence or
        dropped. A topic no article covers gives no events and the ``reason``.

        Example:
            >>> t = a.timeline("Castlemere dock strike")
            >>> [(e.published, e.quote) for e in t.events]
        """
        topic = _validated(topic)
        if self.store.count() == 0:
            raise EmptyStoreError()
        today = today or date.today()
        wide = self.settings.retrieve.model_copy(update={"recent_days": 0})
        dates = retrieve.Filters(since=since, until=min(until, today) if until else today)
        hits = retrieve.search(self.store, self.embedder, topic, wide, dates,
                               k=self.settings.news.timeline_chunks)  # fmt: skip
        result = build_timeline(
            topic, hits, self._article_text, self.embedder.encode, self.settings.news,
            limit=limit, since=since, until=until,
        )  # fmt: skip
        return timeline_headings(result, self.llm, self.embedder.encode) if headings else result

    def changes(self, question: str, since: date, **options: Any) -> Changes:
        """What changed since ``since``: see ``stream_changes``.

        Example:
            >>> c = a.changes("Is the Castlemere dock strike still on?", since=date(2025, 6, 3))
            >>> c.before.text, c.after.text, c.difference
        """
        result: Changes | None = None
        for event in self.stream_changes(question, since, **options):
            if isinstance(event, Changes):
                result = event
        assert result is not None  # stream_changes always ends with Changes
        return result

    def stream_changes(
        self, question: str, since: date, *, today: date | None = None, **options: Any
    ) -> Iterator[Token | Answer | Changes]:
        """Answer as of ``since``, then as of ``today``, then say what changed.

        Yields the first answer's ``Token``s and its ``Answer``, the second's ``Token``s
        and ``Answer``, then ``Changes``. The first answer starts at once, so its first
        token comes as fast as a normal answer's. When no article published after
        ``since`` matches the question, the second answer is the first (one model call).
        ``options`` are those of ``stream`` but the dates (``k``, ``history``, ``exclude``).
        """
        today = today or date.today()
        if since >= today:
            raise InvalidQuestionError(
                f"The date to compare with ({since.isoformat()}) must be before today "
                f"({today.isoformat()})."
            )
        before: Answer | None = None
        for event in self.stream(question, today=since, **options):
            yield event
            before = event if isinstance(event, Answer) else before
        assert before is not None
        later = self.retrieve(question, today=today, since=since + timedelta(days=1))
        floor = self.settings.retrieve.min_score
        after: Answer | None = before
        if any((h.dense or 0.0) >= floor for h in later):
            after = None
            for event in self.stream(question, today=today, **options):
                yield event
                after = event if isinstance(event, Answer) else after
        assert after is not None
        yield compare_answers(question, since, today, before, after, self.embedder.encode,
                              self.settings.news)  # fmt: skip

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up ("and what did Germany do?") as a standalone question."""
        if not history or not self.settings.answer.condense:
            return question
        chain = answer.make_condense_chain(self.llm)
        fixed = answer.CONDENSE_TEMPLATE.format(history="", question=question)
        room = self._prompt_room(answer.CONDENSE_SYSTEM, fixed)
        history_text = answer.format_history(history, max_tokens=room, count=self._count_tokens)
        text = chain.invoke({"history": history_text, "question": question})
        return answer.clean_standalone(text, fallback=question)

    def _off_scope(
        self, question: str, hits: Sequence[Hit], today: date, cited: bool = False
    ) -> str | None:
        """Why these articles cannot answer the question at all, if they cannot.

        Checked on everything retrieved before the model runs (a fast, certain refusal),
        and again on the articles the verified answer cites.
        """
        which = "cited" if cited else "retrieved"
        articles = {h.doc_id: h for h in hits}  # one hit per article
        texts = [f"{h.title}\n{self._article_text(d) or h.text}" for d, h in articles.items()]
        if missing := verify.unmentioned(question, texts, self._term_shares):
            return f"no {which} article mentions {', '.join(missing)}"
        dates = [h.published for h in articles.values()]
        if newest := verify.stale(question, dates, today):
            return (
                f"the question asks about recent events, but the newest of the {len(articles)} "
                f"{which} articles is from {newest.isoformat()}"
            )
        return None

    def _term_shares(self, terms: Sequence[str]) -> dict[str, float]:
        """The share of the stored chunks that hold each term."""
        total = max(self.store.count(), 1)
        return {term: rows / total for term, rows in self.store.term_rows(terms).items()}

    def _article_text(self, doc_id: str) -> str | None:
        stored = self.store.article(doc_id)
        return stored.text if stored else None

    def _prompt_room(self, system: str, user: str) -> int:
        """Tokens of the model's context left once ``system``, ``user`` and the answer are in."""
        n_ctx, max_tokens = self.settings.llm.n_ctx, self.settings.llm.max_tokens
        if isinstance(self._llm, llm.LlamaCppChat):  # the model as it was built
            n_ctx, max_tokens = self._llm.n_ctx, self._llm.max_tokens
        used = self._count_tokens(system) + self._count_tokens(user)
        return n_ctx - max_tokens - used - PROMPT_MARGIN

    def _passage_budget(self, question: str, today: date) -> int:
        """``answer.context_tokens``, or less if the model's context has less room left."""
        fixed = answer.USER_TEMPLATE.format(**answer.chain_input(question, [], today))
        room = self._prompt_room(answer.SYSTEM_PROMPT, fixed)
        return min(self.settings.answer.context_tokens, room)

    def _check_fits(self, question: str) -> None:
        """Refuse a question that would leave less than half the prompt room for passages."""
        fixed = answer.USER_TEMPLATE.format(**answer.chain_input("", [], date.today()))
        limit = self._prompt_room(answer.SYSTEM_PROMPT, fixed) // 2
        if (tokens := self._count_tokens(question)) > limit:
            raise InvalidQuestionError(
                f"The question is too long for the model ({tokens:,} tokens; at most "
                f"{max(limit, 0):,}). Ask it in fewer words."
            )

    def _count_tokens(self, text: str) -> int:
        """The LLM's own token count when we run it; a conservative estimate otherwise."""
        if isinstance(self._llm, llm.LlamaCppChat):
            return self._llm.get_num_tokens(text)
        return context.approx_tokens(text)


def upload_name(name: str) -> str:
    """A safe file name for an upload: no directories, odd characters or leading dots."""
    stem = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .") or "upload"
    return stem[-120:]


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
