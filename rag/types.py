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
    passages: list[Passage] = field(default_factory=list)  # what the model read; not in to_dict

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


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in d.items()}
