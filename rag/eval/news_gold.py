"""The gold file of the news-native answers: timelines, what changed, the freshness note.

One JSON object per line, each with a ``kind`` (``timeline``, ``changes`` or ``freshness``)
and a ``split`` (format and metrics in ``docs/evaluation.md``). Articles are named by
``doc`` in the gold file: a doc_id, or the file name of an article ingested from a folder
(``strike-1-announced.md``); ``resolve`` turns them into the doc_ids of a store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from rag.eval.gold import GoldSetError
from rag.types import ArticleInfo

KINDS = ("timeline", "changes", "freshness")


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    split: str = Field(min_length=1)


class ExpectedEvent(BaseModel):
    """One event a timeline must report: its article and a phrase of its quote."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc: str = Field(min_length=1)
    phrase: str = Field(min_length=1)


class TimelineItem(_Item):
    """A topic and the events its timeline must list, oldest first (none: empty timeline)."""

    kind: Literal["timeline"]
    topic: str = Field(min_length=1)
    today: date
    since: date | None = None
    until: date | None = None
    limit: int = Field(default=12, ge=1)
    events: list[ExpectedEvent]
    complete: bool = True  # every event the timeline should report is listed (precision)


class ChangesItem(_Item):
    """A question asked as of ``since`` and as of ``today``, with what each answer must say.

    ``before``/``after`` are acceptable answer strings; an empty list means that answer must
    abstain. ``before_date``/``after_date``: the newest article each answer must cite.
    """

    kind: Literal["changes"]
    question: str = Field(min_length=1)
    since: date
    today: date
    before: list[str]
    after: list[str]
    changed: bool
    before_date: date | None = None
    after_date: date | None = None


class FreshnessItem(_Item):
    """A question asked on ``today``: whether its answer must carry the freshness note.

    ``cite``: a phrase of the sentence the answer is expected to rest on (the label assumes
    it; a scripted model quotes it). ``mention``: a phrase the note must contain.
    """

    kind: Literal["freshness"]
    question: str = Field(min_length=1)
    today: date
    note: bool
    cite: str | None = None
    mention: str | None = None


NewsItem = Annotated[TimelineItem | ChangesItem | FreshnessItem, Field(discriminator="kind")]
_ITEM: TypeAdapter[NewsItem] = TypeAdapter(NewsItem)


def load_news_gold(path: str | Path) -> list[NewsItem]:
    """Read and validate the gold file; ``GoldSetError`` names the bad line."""
    path = Path(path)
    if not path.is_file():
        raise GoldSetError(f"file not found: {path}")
    items: list[NewsItem] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(_ITEM.validate_python(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as ex:
            raise GoldSetError(f"{path}:{n}: not a news gold item: {ex}") from ex
    ids = [item.id for item in items]
    doubled = sorted({i for i in ids if ids.count(i) > 1})
    if doubled:
        raise GoldSetError(f"{path}: duplicate ids {', '.join(doubled)}")
    return items


def select(items: Iterable[NewsItem], kinds: Sequence[str] | None = None) -> list[NewsItem]:
    """The items of these ``kinds`` (all when None)."""
    unknown = set(kinds or ()) - set(KINDS)
    if unknown:
        raise GoldSetError(f"unknown kinds {sorted(unknown)}; use {', '.join(KINDS)}")
    return [item for item in items if kinds is None or item.kind in kinds]


def resolve(items: Sequence[NewsItem], articles: Iterable[ArticleInfo]) -> list[NewsItem]:
    """The items with every event's ``doc`` replaced by the doc_id of a stored article.

    A ``doc`` is a doc_id, or the file name of the article's source; ``GoldSetError`` lists
    the ones no stored article answers to.
    """
    ids: dict[str, str] = {}
    for info in articles:
        ids[info.doc_id] = info.doc_id
        ids.setdefault(Path(info.source).name, info.doc_id)
    missing = sorted(
        {e.doc for item in items if isinstance(item, TimelineItem) for e in item.events} - set(ids)
    )
    if missing:
        raise GoldSetError(f"gold articles not in the store: {', '.join(missing[:10])}")
    out: list[NewsItem] = []
    for item in items:
        if isinstance(item, TimelineItem):
            events = [e.model_copy(update={"doc": ids[e.doc]}) for e in item.events]
            item = item.model_copy(update={"events": events})
        out.append(item)
    return out
