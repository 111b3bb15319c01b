"""The plain values that flow between pipeline stages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any


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
        return _jsonable(dataclasses.asdict(self))


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
        return {
            "kind": self.kind,
            "older": self.older.to_dict(),
            "newer": self.newer.to_dict(),
            "same_day": self.same_day,
            "update": self.update,
            "used": self.used,
            "text": self.text,
        }


@dataclass(frozen=True)
class EventSource:
    """An article that reports an event (or that a note points to)."""

    doc_id: str
    title: str
    published: date | None

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``{doc_id, title, published}``."""
        return _jsonable(dataclasses.asdict(self))


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
        return {
            "based_on": self.based_on.isoformat(),
            "newer": [s.to_dict() for s in self.newer],
            "text": self.text,
        }


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
        return {
            "published": self.published.isoformat() if self.published else None,
            "doc_id": self.doc_id,
            "title": self.title,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "sources": [s.to_dict() for s in self.sources],
            "heading": self.heading,
        }


@dataclass(frozen=True)
class Timeline:
    """What ``Assistant.timeline`` returns: events oldest first, or none with the reason."""

    topic: str
    events: list[TimelineEvent]
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``rag timeline --json``: ``{topic, events, reason}``."""
        return {
            "topic": self.topic,
            "events": [e.to_dict() for e in self.events],
            "reason": self.reason,
        }


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


def human_date(day: date | None) -> str:
    """``2 June 2025`` (or "undated")."""
    return f"{day.day} {day:%B %Y}" if day else "undated"


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in d.items()}
