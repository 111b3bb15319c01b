"""The one answer to "may we answer?", with the reason when we may not.

Small models refuse answerable questions when told to say "not found", and invent answers
when not, so the assistant abstains from evidence instead. Before the model runs (``before``)
the best passage must be close enough to the question (``retrieve.min_score``) and the
retrieved articles must be about its subject and recent enough for a time-relative
question. After it speaks (``after``) the model must not have declined, verification must
have kept a supported sentence that answers what was asked, and the articles it cites must
pass the subject and recency checks again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from rag import text
from rag.config import GateSettings, Settings
from rag.text import TimeExpression, query_terms
from rag.types import Evidence, Hit
from rag.verify import Verified

TermShares = Callable[[Sequence[str]], dict[str, float]]  # term -> share of chunks holding it


@dataclass(frozen=True)
class Refusal:
    """Why the assistant abstains, and what of the model's answer it left out."""

    reason: str
    unsupported: list[str] = field(default_factory=list)
    grounded: bool | None = None


def before(evidence: Evidence, settings: Settings, term_shares: TermShares) -> Refusal | None:
    """Whether the retrieved evidence may be given to the model at all (None: it may)."""
    hits, floor = evidence.hits, settings.retrieve.min_score
    best = max((h.dense or 0.0 for h in hits), default=0.0)
    if not hits or best < floor:
        looked_for = ", ".join(query_terms(evidence.question)[:8])
        if not hits:
            return Refusal(f"no article matched the question (searched for: {looked_for})")
        return Refusal(
            f"no passage is close enough to the question (best similarity {best:.2f}, "
            f"needed {floor:.2f}; searched for: {looked_for})"
        )
    if reason := _off_scope(evidence, hits, settings.gate, term_shares, "retrieved"):
        return Refusal(reason)
    return None


def declined(reply: str) -> bool:
    """Whether the model said the passages do not answer (then nothing is verified)."""
    return text.is_refusal(reply)


def after(
    evidence: Evidence, checked: Verified | None, settings: Settings, term_shares: TermShares
) -> Refusal | None:
    """Whether the verified answer may be shown (None: it may); ``checked`` None: declined."""
    if checked is None:
        return Refusal("the model found no answer in the retrieved passages")
    if not checked.citations:
        if checked.non_answers and (kind := text.asked_kind(evidence.question)):
            reason = f"no sentence of the model's answer gives what was asked ({text.WANTED[kind]})"
        elif checked.unsupported or not checked.restated:
            reason = "no sentence of the model's answer is supported by the retrieved passages"
        else:
            reason = "the model only restated the question"
        left_out = checked.unsupported + checked.non_answers
        return Refusal(reason, unsupported=left_out, grounded=False)
    cited_ids = {c.doc_id for c in checked.citations}
    cited = [h for h in evidence.hits if h.doc_id in cited_ids]
    if off_scope := _off_scope(evidence, cited, settings.gate, term_shares, "cited"):
        return Refusal(off_scope, unsupported=[checked.text], grounded=False)
    said = [c.quote for c in checked.citations] + [c.title for c in checked.citations]
    if settings.gate.subject_link and not text.mentions_asked(evidence.question, said):
        reason = "no cited sentence or its headline mentions anything the question asks about"
        return Refusal(reason, unsupported=[checked.text], grounded=False)
    return None


def _off_scope(
    evidence: Evidence, hits: Sequence[Hit], settings: GateSettings, shares: TermShares, which: str
) -> str | None:
    """Why these articles cannot answer the question at all, if they cannot."""
    articles = evidence.articles(hits)
    texts = [f"{h.title}\n{evidence.text(doc_id)}" for doc_id, h in articles.items()]
    if settings.subject_check and (
        missing := unmentioned(evidence.question, texts, shares, settings)
    ):
        return f"no {which} article mentions {', '.join(missing)}"
    dates = [h.published for h in articles.values()]
    if newest := stale(evidence.question, dates, evidence.today, settings):
        return (
            f"the question asks about recent events, but the newest of the {len(articles)} "
            f"{which} articles is from {newest.isoformat()}"
        )
    return None


# ---- is the evidence about the question's subject? ------------------------------------------
# A small model answers an unanswerable question from whatever passage is closest, and such
# an answer can be "supported" sentence by sentence (a question about a ferry operator
# answered from an article about cheese exports). Checks on the articles themselves catch it.


def unmentioned(
    question: str,
    texts: Iterable[str],
    term_shares: TermShares | None = None,
    settings: GateSettings = GateSettings(),  # noqa: B008 (frozen)
) -> list[str]:
    """What of the question's subject ``texts`` do not mention, when that is too much.

    Returns ``[]`` when at least half of the names (and at least one) occur, every precise
    figure, and the rarest name if it is rare: an article about the question's subject may
    well miss a name or two ("Green councillor", "European Union" written "EU"), but
    not the "18.9C" the question is about, nor its most specific name (a small island named
    in a tiny share of the chunks). ``term_shares`` gives the share of the store's chunks
    that hold each name; names the store never mentions are left to the half rule. On dev,
    every gold article mentions its question's rarest name.
    """
    texts = list(texts)
    figures = text.question_figures(question) if settings.precise_figures else []
    found = {text.plain_number(n) for t in texts for n in text.NUMBER.findall(t)}
    missing_figures = [f for f in figures if text.plain_number(f) not in found]
    missing_names: list[str] = []
    if names := text.question_names(question):
        hay = text.Haystack.of(texts)
        acronyms = text.question_acronyms(question)
        missing = [n for n in names if not text.mentioned(n, hay, acronym=n in acronyms)]
        shares = term_shares(names) if term_shares and missing else {}
        rare = [n for n in names if 0 < shares.get(n, 0) <= settings.rare_name_share]
        if len(names) - len(missing) < max(1, len(names) // 2):
            missing_names = missing
        elif rare and (rarest := min(rare, key=shares.__getitem__)) in missing:
            missing_names = [rarest]
    return missing_names + missing_figures


# ---- is the evidence recent enough? ---------------------------------------------------------


def oldest_allowed(
    expression: TimeExpression,
    today: date,
    settings: GateSettings = GateSettings(),  # noqa: B008
) -> date | None:
    """The oldest publication date that can answer a question with this time expression."""
    match expression.scope:
        case "week":
            return _days_before(today, settings.this_week_days)
        case "fortnight":
            return _days_before(today, settings.last_week_days)
        case "month":
            return _days_before(today, settings.lately_days)
        case "year":
            # Since New Year, but never narrower than "recently": in early January an article
            # from late December may still report the plans for this year.
            return min(date(today.year, 1, 1), _days_before(today, settings.lately_days))
        case "last_year":
            # all of last year ("the past year" too)
            return date(max(today.year - 1, date.min.year), 1, 1)
    return None


def _days_before(today: date, days: int) -> date:
    """``today - days``, or the first date there is (a "today" in the first days of year 1)."""
    return today - timedelta(days=days) if (today - date.min).days > days else date.min


def fresh(
    question: str,
    hits: Sequence[Hit],
    today: date,
    settings: GateSettings = GateSettings(),  # noqa: B008
) -> list[Hit]:
    """The hits recent enough for a time-relative question; all hits if it is not one.

    Older articles are kept when none is recent: ``stale`` then explains the refusal. A
    model shown last year's report next to this week's often answers from the old one
    ("Who won the regatta this week?" -> the report of the 2019 race), which the check
    after it speaks can only refuse.
    """
    oldest = oldest_allowed(text.read_time(question), today, settings)
    if oldest is None:
        return list(hits)
    recent = [h for h in hits if h.published is None or h.published >= oldest]
    return recent or list(hits)


def stale(
    question: str,
    published: Iterable[date | None],
    today: date,
    settings: GateSettings = GateSettings(),  # noqa: B008
) -> date | None:
    """The newest article date when all are too old for a time-relative question, else None."""
    oldest = oldest_allowed(text.read_time(question), today, settings)
    dates = [d for d in published if d is not None]
    if oldest is None or not dates or max(dates) >= oldest:
        return None
    return max(dates)
