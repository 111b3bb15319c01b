"""Scores of timelines, what-changed answers and freshness notes against the news gold file.

Each result is judged alone (``judge_timeline``, ``judge_changes``, ``judge_freshness``:
plain values in, a judgement out), then ``score`` sums the judgements per split and over
``all``. The metrics are defined in ``docs/evaluation.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rag.eval.match import contains_answer, matches_normalized
from rag.eval.news_gold import ChangesItem, FreshnessItem, TimelineItem
from rag.types import Answer, Changes, Timeline

SPLITS = ("tuning", "check", "all")


# ---- one item ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineJudgement:
    """One timeline against its expected events (one-to-one, order-independent matching)."""

    id: str
    split: str
    expected: int
    reported: int
    matched: int
    complete: bool  # the item lists every event: unmatched reported events are false
    pairs: int  # pairs of matched expected events
    pairs_right: int  # ... reported in the gold order
    exact: int  # reported events whose quote is the article's text at start:end
    empty: bool  # the item expects no event
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangesJudgement:
    """One ``Changes`` against the gold answers, change and dates."""

    id: str
    split: str
    before_strict: bool
    before_normalized: bool
    after_strict: bool
    after_normalized: bool
    changed_right: bool
    dates_right: bool | None  # None: the item gives no date
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class FreshnessJudgement:
    """One answer's freshness note against the label."""

    id: str
    split: str
    expected: bool
    noted: bool
    premise: bool  # the answer rests on the item's ``cite`` sentence (True without one)
    mention_right: bool | None  # None: no ``mention`` asked, or no note to check
    errors: tuple[str, ...] = ()


Judgement = TimelineJudgement | ChangesJudgement | FreshnessJudgement


def judge_timeline(
    item: TimelineItem, timeline: Timeline, texts: Mapping[str, str]
) -> TimelineJudgement:
    """Match the reported events to the expected ones; ``texts``: doc_id -> article text.

    An expected event matches a reported one when its ``doc`` is among the event's sources
    and its phrase is in the event's quote; each reported event matches at most one.
    """
    events = timeline.events
    position: dict[int, int] = {}  # expected index -> reported index
    for i, want in enumerate(item.events):
        for j, event in enumerate(events):
            if j in position.values():
                continue
            docs = {event.doc_id} | {s.doc_id for s in event.sources}
            if want.doc in docs and want.phrase in event.quote:
                position[i] = j
                break
    errors = [
        f"missed {item.events[i].phrase!r}" for i in range(len(item.events)) if i not in position
    ]
    matched = sorted(position)
    pairs = [(a, b) for n, a in enumerate(matched) for b in matched[n + 1 :]]
    right = sum(position[a] < position[b] for a, b in pairs)
    if right < len(pairs):
        errors.append("events out of order")
    exact = sum(texts.get(e.doc_id, "")[e.start : e.end] == e.quote for e in events)
    if exact < len(events):
        errors.append(f"{len(events) - exact} inexact quote(s)")
    if item.complete and len(events) > len(position):
        extra = [e.quote[:60] for j, e in enumerate(events) if j not in position.values()]
        errors.append("unexpected " + "; ".join(repr(q) for q in extra))
    return TimelineJudgement(
        item.id,
        item.split,
        expected=len(item.events),
        reported=len(events),
        matched=len(position),
        complete=item.complete,
        pairs=len(pairs),
        pairs_right=right,
        exact=exact,
        empty=not item.events,
        errors=tuple(errors),
    )


def judge_changes(item: ChangesItem, changes: Changes) -> ChangesJudgement:
    """The two answers against ``before``/``after`` (strict and normalised match)."""
    b_strict, b_norm = _says(changes.before, item.before)
    a_strict, a_norm = _says(changes.after, item.after)
    dates = None
    if item.before_date is not None or item.after_date is not None:
        dates = all(
            want is None or _newest_cited(answer) == want
            for want, answer in (
                (item.before_date, changes.before),
                (item.after_date, changes.after),
            )
        )
    errors = [
        f"{name} answer {answer.text[:80]!r}"
        for name, ok, answer in (
            ("before", b_norm, changes.before),
            ("after", a_norm, changes.after),
        )
        if not ok
    ]
    if changes.changed != item.changed:
        errors.append(f"changed={changes.changed}")
    if dates is False:
        errors.append(
            f"cited dates {_newest_cited(changes.before)} / {_newest_cited(changes.after)}"
        )
    return ChangesJudgement(
        item.id,
        item.split,
        b_strict,
        b_norm,
        a_strict,
        a_norm,
        changes.changed == item.changed,
        dates,
        tuple(errors),
    )


def judge_freshness(item: FreshnessItem, answer: Answer) -> FreshnessJudgement:
    """The answer's note against ``item.note`` (and ``item.mention``)."""
    premise = item.cite is None or (
        not answer.abstained and any(item.cite in c.quote for c in answer.citations)
    )
    note = answer.freshness
    mention = None
    if item.mention is not None and note is not None:
        mention = item.mention in note.text
    errors = []
    if not premise:
        errors.append(f"answer does not cite {item.cite!r}")
    if (note is not None) != item.note:
        errors.append(f"note {note.text if note else None!r}")
    if mention is False:
        errors.append(f"note does not mention {item.mention!r}")
    return FreshnessJudgement(
        item.id, item.split, item.note, note is not None, premise, mention, tuple(errors)
    )


def _says(answer: Answer, gold: list[str]) -> tuple[bool, bool]:
    """(strict, normalised) match of ``answer`` to ``gold``; no gold: it must abstain."""
    if not gold:
        return answer.abstained, answer.abstained
    if answer.abstained:
        return False, False
    return contains_answer(answer.text, gold), matches_normalized(answer.text, gold)


def _newest_cited(answer: Answer) -> date | None:
    return max((c.published for c in answer.citations if c.published), default=None)


# ---- sums over items ----------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass
class TimelineScore:
    """Timeline counts over items; a rate is None when there is nothing to measure."""

    items: int = 0
    expected: int = 0
    matched: int = 0
    reported: int = 0
    complete_reported: int = 0  # reported events of complete items
    complete_matched: int = 0
    pairs: int = 0
    pairs_right: int = 0
    exact: int = 0
    empty_items: int = 0
    empty_right: int = 0

    def add(self, j: TimelineJudgement) -> None:
        """Count one judgement."""
        self.items += 1
        self.expected += j.expected
        self.matched += j.matched
        self.reported += j.reported
        if j.complete:
            self.complete_reported += j.reported
            self.complete_matched += j.matched
        self.pairs += j.pairs
        self.pairs_right += j.pairs_right
        self.exact += j.exact
        self.empty_items += j.empty
        self.empty_right += j.empty and j.reported == 0

    @property
    def recall(self) -> float | None:
        """Expected events found over expected events."""
        return _rate(self.matched, self.expected)

    @property
    def precision(self) -> float | None:
        """Reported events that match an expected one, over the complete items' reports."""
        return _rate(self.complete_matched, self.complete_reported)

    @property
    def order_accuracy(self) -> float | None:
        """Pairs of matched expected events reported in the gold order, over such pairs."""
        return _rate(self.pairs_right, self.pairs)

    @property
    def quote_exactness(self) -> float | None:
        """Reported events whose quote is ``article_text[start:end]``."""
        return _rate(self.exact, self.reported)

    @property
    def empty_correct(self) -> float | None:
        """Items expecting no event that got none."""
        return _rate(self.empty_right, self.empty_items)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and rates."""
        rates = ("recall", "precision", "order_accuracy", "quote_exactness", "empty_correct")
        return {**vars(self), **{r: _rounded(getattr(self, r)) for r in rates}}


@dataclass
class ChangesScore:
    """What-changed counts over items."""

    items: int = 0
    before_strict: int = 0
    before_normalized: int = 0
    after_strict: int = 0
    after_normalized: int = 0
    changed_right: int = 0
    dated: int = 0
    dates_right: int = 0

    def add(self, j: ChangesJudgement) -> None:
        """Count one judgement."""
        self.items += 1
        self.before_strict += j.before_strict
        self.before_normalized += j.before_normalized
        self.after_strict += j.after_strict
        self.after_normalized += j.after_normalized
        self.changed_right += j.changed_right
        if j.dates_right is not None:
            self.dated += 1
            self.dates_right += j.dates_right

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and rates (each count over ``items``; dates over ``dated``)."""
        rates = {
            f"{name}_rate": _rounded(_rate(getattr(self, name), self.items))
            for name in (
                "before_strict",
                "before_normalized",
                "after_strict",
                "after_normalized",
                "changed_right",
            )
        }
        return {
            **vars(self),
            **rates,
            "dates_right_rate": _rounded(_rate(self.dates_right, self.dated)),
        }


@dataclass
class FreshnessScore:
    """Freshness-note counts over the items whose answer rests on the expected sentence."""

    items: int = 0
    premise_missed: int = 0  # left out of tp/fp/fn/tn: the label assumed another answer
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    mentions: int = 0
    mentions_right: int = 0

    def add(self, j: FreshnessJudgement) -> None:
        """Count one judgement."""
        self.items += 1
        if not j.premise:
            self.premise_missed += 1
            return
        if j.expected:
            self.tp += j.noted
            self.fn += not j.noted
        else:
            self.fp += j.noted
            self.tn += not j.noted
        if j.mention_right is not None:
            self.mentions += 1
            self.mentions_right += j.mention_right

    @property
    def precision(self) -> float | None:
        """Notes shown where one was due, over notes shown."""
        return _rate(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """Notes shown where one was due, over notes due."""
        return _rate(self.tp, self.tp + self.fn)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and rates."""
        return {
            **vars(self),
            "precision": _rounded(self.precision),
            "recall": _rounded(self.recall),
        }


@dataclass
class NewsScore:
    """The three kinds' scores over one split, and what went wrong (over ``all`` only)."""

    timeline: TimelineScore = field(default_factory=TimelineScore)
    changes: ChangesScore = field(default_factory=ChangesScore)
    freshness: FreshnessScore = field(default_factory=FreshnessScore)
    errors: list[str] = field(default_factory=list)

    def add(self, j: Judgement) -> None:
        """Count one judgement into its kind's score."""
        if isinstance(j, TimelineJudgement):
            self.timeline.add(j)
        elif isinstance(j, ChangesJudgement):
            self.changes.add(j)
        else:
            self.freshness.add(j)

    def to_dict(self) -> dict[str, Any]:
        """JSON: the kinds with items, and ``errors``."""
        kinds: dict[str, TimelineScore | ChangesScore | FreshnessScore] = {
            "timeline": self.timeline,
            "changes": self.changes,
            "freshness": self.freshness,
        }
        return {
            **{name: s.to_dict() for name, s in kinds.items() if s.items},
            "errors": self.errors,
        }


def score(judgements: Iterable[Judgement]) -> dict[str, NewsScore]:
    """Scores per split and over ``all``; ``all`` lists each item's errors."""
    scores: dict[str, NewsScore] = {}
    for j in judgements:
        for key in (j.split, "all"):
            scores.setdefault(key, NewsScore()).add(j)
        scores["all"].errors += [f"{j.id}: {e}" for e in j.errors]
    return {key: scores[key] for key in _ordered(scores)}


def _ordered(splits: Iterable[str]) -> list[str]:
    """tuning, check, any other split by name, then all."""
    names = set(splits)
    rest = sorted(names - set(SPLITS))
    return [s for s in SPLITS[:2] if s in names] + rest + (["all"] if "all" in names else [])


def text_summary(scores: Mapping[str, NewsScore], source: str = "") -> str:
    """A few lines per kind: one per split, then the errors."""
    order = _ordered(scores)

    def pct(value: float | None) -> str:
        return "  -  " if value is None else f"{value:.3f}"

    lines = [f"news-native answers{' on ' + source if source else ''}"]
    if any(scores[s].timeline.items for s in order):
        lines.append("timeline")
        for split in order:
            t = scores[split].timeline
            lines.append(
                f"  {split:8} items={t.items:3} recall={pct(t.recall)} precision="
                f"{pct(t.precision)} order={pct(t.order_accuracy)} exact={pct(t.quote_exactness)}"
                f" empty={pct(t.empty_correct)}"
            )
    if any(scores[s].changes.items for s in order):
        lines.append("changes")
        for split in order:
            c = scores[split].changes
            n = c.items
            lines.append(
                f"  {split:8} items={n:3} before={c.before_normalized}/{n} (strict "
                f"{c.before_strict}) after={c.after_normalized}/{n} (strict {c.after_strict}) "
                f"changed={c.changed_right}/{n} dates={c.dates_right}/{c.dated}"
            )
    if any(scores[s].freshness.items for s in order):
        lines.append("freshness")
        for split in order:
            f = scores[split].freshness
            lines.append(
                f"  {split:8} items={f.items:3} tp={f.tp} fp={f.fp} fn={f.fn} tn={f.tn} "
                f"precision={pct(f.precision)} recall={pct(f.recall)} "
                f"premise_missed={f.premise_missed}"
            )
    if "all" in scores and scores["all"].errors:
        lines += ["errors"] + [f"  {e}" for e in scores["all"].errors]
    return "\n".join(lines)
