"""What changed since a date: two answers and one sentence on the difference.

The answers are as of ``since`` and as of ``today`` (two ordinary, verified answers:
``news.stream_changes``); the difference is built from exact quotes, so it states nothing
unchecked.

The difference, in order of preference:

- the answer as of today cites no article published after ``since``, or its newer
  sentences say the same as the older answer's (similarity at least
  ``NewsSettings.merge_similarity``, no disagreement): "No newer article changes this
  (newest article: 2 June 2025)." (``changed`` False);
- nothing answered it as of ``since``: "New since 1 June 2025: “…” (Title, 12 June 2025).";
- an older and a newer cited sentence disagree (``disagree.find``): "12 (Title,
  10 March 2025) became 17 (Title, 14 March 2025).";
- otherwise the newest cited sentence: "New since 1 June 2025: “…” (Title, 12 June 2025).".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rag import disagree
from rag.config import NewsSettings
from rag.text import human_date
from rag.types import Answer, Changes, Citation, Encoder, Report


def compare(
    question: str,
    since: date,
    today: date,
    before: Answer,
    after: Answer,
    encode: Encoder,
    settings: NewsSettings,
) -> Changes:
    """The ``Changes`` between two answers to ``question`` (see the module docstring)."""
    newest = _newest(after)

    def result(changed: bool, difference: str, evidence: list[Report]) -> Changes:
        return Changes(question, since, today, before, after, changed, difference, evidence, newest)

    unchanged = f"No newer article changes this (newest article: {human_date(newest)})."
    new = [c for c in after.citations if c.published is not None and c.published > since]
    if after.abstained or not new:
        return result(False, unchanged, [])
    new.sort(key=lambda c: (c.published or date.min, -(c.support or 0.0)), reverse=True)
    if before.abstained or not before.citations:
        return result(True, _new_since(since, new[0]), [_report(new[0])])
    old = [c for c in before.citations if c.doc_id not in {n.doc_id for n in new}]
    found = disagree.find([_statement(c) for c in old + new], encode, settings)
    crossing = [d for d in found if d.newer.published and d.newer.published > since]
    if crossing:
        d = max(crossing, key=lambda d: d.newer.published or date.min)
        return result(True, f"{_said(d.older)} became {_said(d.newer)}.", [d.older, d.newer])
    if old and _says_the_same(old, new, encode, settings.merge_similarity):
        return result(False, unchanged, [])
    return result(True, _new_since(since, new[0]), [_report(new[0])])


def _newest(answer: Answer) -> date | None:
    """The newest article the answer rests on (what it retrieved, if it cites nothing)."""
    dates = [c.published for c in answer.citations] or [h.published for h in answer.retrieved]
    return max((d for d in dates if d is not None), default=None)


def _says_the_same(
    old: Sequence[Citation], new: Sequence[Citation], encode: Encoder, threshold: float
) -> bool:
    """Every newer cited sentence repeats one of the older answer's sentences."""
    vectors = encode([c.quote for c in old] + [c.quote for c in new])
    similarity = vectors[len(old) :] @ vectors[: len(old)].T
    return bool((similarity.max(axis=1) >= threshold).all())


def _new_since(since: date, c: Citation) -> str:
    return f"New since {human_date(since)}: “{c.quote}” ({c.title}, {human_date(c.published)})."


def _said(r: Report) -> str:
    return f"{r.value} ({r.title}, {human_date(r.published)})"


def _report(c: Citation) -> Report:
    return Report(c.doc_id, c.title, c.published, c.quote, c.start, c.end)


def _statement(c: Citation) -> disagree.Statement:
    context = f"{c.title}\n{c.quote}"
    return disagree.Statement(c.doc_id, c.title, c.published, c.quote, c.start, c.end, context)
