"""The plain values that flow between pipeline stages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import numpy as np

from rag.errors import InvalidQuestionError
from rag.text.days import human_date

Encoder = Callable[[Sequence[str]], np.ndarray]  # texts -> one normalised vector per text


@dataclass(frozen=True)
class Article:
    """One loaded article: its text and where it came from."""

    doc_id: str
    title: str
    text: str
    source: str
    url: str | None = None
    published: date | None = None


@dataclass(frozen=True)
class Chunk:
    """A span ``article.text[start:end]`` that is embedded and indexed as a unit."""

    chunk_id: str
    doc_id: str
    index: int
    text: str
    start: int
    end: int


class IndexedArticle(NamedTuple):
    """An article ready for the store: its content hash and its chunks (``Store.put``)."""

    article: Article
    content_hash: str
    chunks: list[Chunk]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its article's metadata and scores."""

    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    url: str | None = None
    published: date | None = None
    source: str = ""
    dense: float | None = None
    bm25: float | None = None


@dataclass(frozen=True)
class Passage:
    """What the model reads as passage ``n``: a part of one hit, with exact article offsets."""

    n: int
    hit: Hit
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Citation:
    """The passage behind one ``[n]`` marker in ``Answer.text``."""

    n: int
    doc_id: str
    title: str
    url: str | None
    published: date | None
    quote: str
    start: int
    end: int
    score: float
    chunk_id: str
    supported: bool | None = None
    support: float | None = None


@dataclass(frozen=True)
class Answer:
    """What ``Assistant.ask`` returns."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    abstain_reason: str | None = None
    retrieved: list[Hit] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""
    grounded: bool | None = None
    unsupported: list[str] = field(default_factory=list)
    standalone_question: str | None = None
    disagreements: list[Disagreement] = field(default_factory=list)
    freshness: FreshnessNote | None = None
    # What the model read (empty when the gate refused before the model ran); not in to_dict.
    passages: list[Passage] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape printed by ``rag ask --json`` (names are a public contract)."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "grounded": self.grounded,
            "unsupported": self.unsupported,
            "standalone_question": self.standalone_question,
            "citations": [_jsonable(dataclasses.asdict(c)) for c in self.citations],
            "retrieved": [
                {"chunk_id": h.chunk_id, "doc_id": h.doc_id, "title": h.title, "score": h.score}
                for h in self.retrieved
            ],
            "timings": self.timings,
            "model": self.model,
            "disagreements": [d.to_dict() for d in self.disagreements],
            "freshness_note": self.freshness.to_dict() if self.freshness else None,
        }


_ASK_KEYS = ("k", "today", "since", "until", "history", "exclude")
# The dates an article may carry (ingest ignores others) and a question may name: date
# arithmetic on the ask path (recent windows, "last year") stays far from the calendar's ends.
FIRST_DAY = date(1801, 1, 1)
LAST_DAY = date(2199, 12, 31)


@dataclass(frozen=True)
class AskOptions:
    """How to answer a question, besides the question: the Python API, CLI, REST and UI share it.

    ``today`` (default: the real date) is the date the question is asked on: relative dates
    resolve against it and articles published after it are never used. ``since``/``until``
    limit the publication dates, ``exclude`` names articles (doc_ids) that must not be used,
    and ``history`` holds the earlier (question, answer) turns of a conversation.
    """

    k: int | None = None
    today: date | None = None
    since: date | None = None
    until: date | None = None
    history: Sequence[tuple[str, str]] = ()
    exclude: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "history", tuple((str(q), str(a)) for q, a in self.history))
        object.__setattr__(self, "exclude", frozenset(self.exclude))

    @classmethod
    def of(cls, options: AskOptions | None = None, **overrides: Any) -> AskOptions:
        """``options`` (default: none set) with the keyword ``overrides`` that are not None."""
        unknown = set(overrides) - set(_ASK_KEYS)
        if unknown:
            raise TypeError(f"unknown ask options {sorted(unknown)}; use {list(_ASK_KEYS)}")
        given = {key: value for key, value in overrides.items() if value is not None}
        return dataclasses.replace(options or cls(), **given)

    def checked(self) -> AskOptions:
        """These options, or ``InvalidQuestionError`` for a date no article can have."""
        for key in ("today", "since", "until"):
            day = getattr(self, key)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise InvalidQuestionError(
                    f"{key} {day.isoformat()} is outside the dates articles can have "
                    f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})."
                )
        return self

    @classmethod
    def parse(cls, values: Mapping[str, Any], allowed: Iterable[str] = _ASK_KEYS) -> AskOptions:
        """From JSON-like values (ISO dates); a bad one raises ``InvalidQuestionError``.

        ``allowed`` keys may include some that are not options (such as ``question``), which
        are left out.
        """
        unknown = set(values) - set(allowed)
        if unknown:
            raise InvalidQuestionError(
                f"Unknown input keys {sorted(unknown)}; use {sorted(allowed)}."
            )
        given = {key: value for key, value in values.items() if key in _ASK_KEYS}
        for key in ("today", "since", "until"):
            if isinstance(given.get(key), str):
                try:
                    given[key] = date.fromisoformat(given[key])
                except ValueError as ex:
                    raise InvalidQuestionError(f"{key} must be a YYYY-MM-DD date: {ex}") from ex
        return cls.of(**given)


@dataclass(frozen=True)
class Evidence:
    """What one question is answered from: read and computed once, passed down the ask path.

    ``texts`` holds the text of every retrieved article (the hit's own text when the article
    is gone) and ``vector`` the question's embedding from retrieval. ``vectors`` keeps the
    embedding of every sentence embedded while answering: context fills it, verification
    reads it (see ``encoder``).
    """

    question: str  # as searched for: the standalone question of a follow-up
    today: date
    hits: list[Hit]
    texts: dict[str, str]
    vector: np.ndarray
    vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def text(self, doc_id: str) -> str:
        """The article's text (a hit's own text when the article could not be read)."""
        return self.texts[doc_id]

    def articles(self, hits: Sequence[Hit] | None = None) -> dict[str, Hit]:
        """One hit per article of ``hits`` (default: all), in order of their best hit."""
        return {h.doc_id: h for h in (self.hits if hits is None else hits)}

    def with_hits(self, hits: Sequence[Hit]) -> Evidence:
        """The same evidence narrowed to ``hits`` (it shares the embedded sentences)."""
        return dataclasses.replace(self, hits=list(hits), vectors=self.vectors)

    def encoder(self, encode: Encoder) -> Encoder:
        """``encode``, reusing the vectors of texts embedded before and keeping new ones."""

        def cached(texts: Sequence[str]) -> np.ndarray:
            missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
            if missing:
                self.vectors.update(zip(missing, encode(missing), strict=True))
            if not texts:
                return np.zeros((0, len(self.vector)), dtype=np.float32)
            return np.stack([self.vectors[t] for t in texts])

        return cached


@dataclass(frozen=True)
class Token:
    """One streamed piece of the answer text."""

    text: str


@dataclass
class IngestReport:
    """What ``Assistant.ingest`` did, article by article (doc_ids), and what it could not read."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0

    def __str__(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.failed)} failed "
            f"({self.chunks} chunks written)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ArticleInfo:
    """One row of ``rag list``."""

    doc_id: str
    title: str
    published: date | None
    url: str | None
    source: str
    chunks: int


# ---- news-native answers (docs/news.md) --------------------------------------------------


@dataclass(frozen=True)
class Report:
    """One article's sentence as evidence: what it says (``value``) and when it was published.

    ``quote == article_text[start:end]``.
    """

    doc_id: str
    title: str
    published: date | None
    quote: str
    start: int
    end: int
    value: str = ""  # the disputed value as written: "12", "on Monday", "Marta Ilves"

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``{doc_id, title, published, quote, start, end, value}``."""
        return _json(dataclasses.asdict(self))


@dataclass(frozen=True)
class Disagreement:
    """Two articles state different values for the same thing ("killed 12" vs "killed 15").

    ``older`` and ``newer`` are ordered by publication date (on ``same_day`` the order says
    nothing). ``update`` is True when the newer sentence reports a revision ("has risen
    to"). ``used`` says which of the two the answer cites: "newer", "older" or "both".
    """

    kind: str  # "number" | "date" | "name"
    older: Report
    newer: Report
    same_day: bool = False
    update: bool = False
    used: str | None = None

    @property
    def text(self) -> str:
        """One line for people: "Reports differ: 12 (Title, 10 March 2025) vs 15 (...)"."""
        first, second = (
            f"{r.value} ({r.title}, {human_date(r.published)})" for r in (self.older, self.newer)
        )
        line = f"Reports differ: {first} vs {second}"
        if self.used == "both" or self.used is None:
            return line + "."
        if self.same_day:
            return f"{line}; the answer uses the report saying {self._side().value}."
        day = human_date(self._side().published)
        return f"{line}; the answer uses the {self.used} report ({day})."

    def _side(self) -> Report:
        return self.newer if self.used == "newer" else self.older

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``{kind, older, newer, same_day, update, used, text}`` (reports as ``Report``)."""
        return {**_json(dataclasses.asdict(self)), "text": self.text}


@dataclass(frozen=True)
class EventSource:
    """An article that reports an event (or that a note points to)."""

    doc_id: str
    title: str
    published: date | None

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``{doc_id, title, published}``."""
        return _json(dataclasses.asdict(self))


@dataclass(frozen=True)
class FreshnessNote:
    """An answer rests only on old articles while newer ones about its subject exist."""

    based_on: date  # the newest article the answer cites
    newer: list[EventSource]  # newer articles about the same subject, newest first

    @property
    def text(self) -> str:
        """One line: "Based on a report of 2 June 2025; newer articles: “…” (12 June 2025)."."""
        newer = "; ".join(f"“{s.title}” ({human_date(s.published)})" for s in self.newer)
        return f"Based on a report of {human_date(self.based_on)}; newer articles: {newer}."

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``{based_on, newer: [{doc_id, title, published}], text}``."""
        return {**_json(dataclasses.asdict(self)), "text": self.text}


@dataclass(frozen=True)
class TimelineEvent:
    """One event of a timeline: an exact sentence of an article, dated by its article.

    ``quote == article_text[start:end]``; ``sources`` lists every article reporting it.
    """

    published: date | None
    doc_id: str
    title: str
    quote: str
    start: int
    end: int
    sources: list[EventSource]  # the event's own article first, then the others by date
    heading: str | None = None  # an optional verified one-line heading (LLM)

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``{published, doc_id, title, quote, start, end, sources, heading}``."""
        return _json(dataclasses.asdict(self))


@dataclass(frozen=True)
class Timeline:
    """What ``Assistant.timeline`` returns: events oldest first, or none with the reason."""

    topic: str
    events: list[TimelineEvent]
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``rag timeline --json``: ``{topic, events, reason}``."""
        return _json(dataclasses.asdict(self))


@dataclass(frozen=True)
class Changes:
    """What ``Assistant.changes`` returns: answers as of ``since`` and ``today``, and the change.

    ``difference`` is built from exact quotes (each in ``evidence``), so it needs no check
    of its own: "12 (Title, 10 March 2025) became 17 (Title, 14 March 2025).", or
    "No newer article changes this (newest article: 2 June 2025)." when ``changed`` is False.
    """

    question: str
    since: date
    today: date
    before: Answer
    after: Answer
    changed: bool
    difference: str
    evidence: list[Report] = field(default_factory=list)
    newest: date | None = None  # the newest article the answer as of today rests on

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``rag ask --since-then DATE --json``."""
        return {
            "question": self.question,
            "since": self.since.isoformat(),
            "today": self.today.isoformat(),
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "changed": self.changed,
            "difference": self.difference,
            "evidence": [r.to_dict() for r in self.evidence],
            "newest": self.newest.isoformat() if self.newest else None,
        }


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in d.items()}


def _json(value: Any) -> Any:
    """``value`` with its dates as ISO strings, in nested dicts and lists too."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value.isoformat() if isinstance(value, date) else value
