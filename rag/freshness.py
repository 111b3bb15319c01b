"""The freshness note: an answer that rests only on old articles says so when newer ones exist.

The rule (thresholds in ``NewsSettings``): the newest article the answer cites is at least
``stale_days`` older than today; the question is about now (``text.about_now``: not "in
March", not "at first"); and the store holds an article about the same subject published
at least ``newer_days`` after it (and not after today). "About the same subject" means the
article is close to the question (retrieval similarity at least ``newer_similarity``) and
mentions the question's names (``gate.unmentioned``, the rule that gates answers).

The note is ``FreshnessNote``: "Based on a report of 2 June 2025; newer articles: “Castlemere
dock strike ends as workers accept 6% pay deal” (12 June 2025)."
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from rag import gate, text
from rag.config import NewsSettings
from rag.types import Citation, EventSource, Evidence, FreshnessNote, Hit

MAX_NEWER = 3  # newer articles named in the note
Search = Callable[[date, date], Sequence[Hit]]  # (since, until) -> hits for the same question
Read = Callable[[Hit], str]  # a hit -> its article's text


def note(
    evidence: Evidence,
    citations: Sequence[Citation],
    search: Search,
    read: Read,
    settings: NewsSettings,
) -> FreshnessNote | None:
    """The note for an answer to ``evidence`` citing ``citations``, or None when not stale.

    ``evidence.hits`` (what the answer was retrieved from) are checked first; ``search``
    runs only for an old answer, to find newer articles retrieval did not rank, and
    ``read`` reads such an article only when it is new enough and close to the question.
    """
    dates = [c.published for c in citations]
    if not dates or any(d is None for d in dates) or not text.about_now(evidence.question):
        return None
    based_on = max(d for d in dates if d is not None)
    today = evidence.today
    if (today - based_on).days < settings.stale_days:
        return None
    since = based_on + timedelta(days=settings.newer_days)
    if since > today:
        return None
    cited = {c.doc_id for c in citations}
    newer: dict[str, EventSource] = {}
    for hit in [*evidence.hits, *search(since, today)]:
        if (
            hit.doc_id in cited
            or hit.doc_id in newer
            or hit.published is None
            or not since <= hit.published <= today
            or (hit.dense or 0.0) < settings.newer_similarity
        ):
            continue
        article = evidence.texts.get(hit.doc_id) or read(hit)
        if gate.unmentioned(evidence.question, [f"{hit.title}\n{article}"]):
            continue
        newer[hit.doc_id] = EventSource(hit.doc_id, hit.title, hit.published)
    if not newer:
        return None
    newest = sorted(newer.values(), key=lambda s: (s.published or date.min, s.doc_id), reverse=True)
    return FreshnessNote(based_on, newest[:MAX_NEWER])
