"""Topic -> ``Timeline``: the events of a developing story, oldest first, without the LLM.

Extractive: every event is an exact sentence of its article, dated by the article.

1. Retrieval across dates (no boost for recent articles; ``NewsSettings.timeline_chunks``
   chunks, at most ``max_per_article`` per article).
2. An article covers the topic when one of its chunks is close to it (dense similarity at
   least ``timeline_min_similarity``, or every keyword in its title), it mentions the
   topic's names (``gate.unmentioned``, the rule that gates answers) and more than half
   of the topic's keywords.
3. Its event is the sentence, among its lead (first two sentences) and the retrieved
   chunks, that best matches the topic *and* states something dated: a verb of happening
   and a time expression, not background or a quote (``text.eventfulness``). Score: cosine
   to the topic + 0.5 x keyword share + 0.3 x eventfulness + 0.2 for the first sentence
   (0.1 for the second).
4. Near-duplicates are one event: sentences of different articles at most ``merge_days``
   apart, at least ``merge_similarity`` alike, that do not disagree (``disagree.find``).
   The earliest report stays; every article reporting it is listed in ``sources``.
5. ``limit``: the best-scoring events are kept, then ordered by date.

``headings`` adds a one-line heading per event (one model call, the prompt in
``rag.answer``), each verified against its event's sentence like an answer sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from langchain_core.language_models import BaseChatModel

from rag import answer, disagree, gate, text, verify
from rag.config import NewsSettings, VerifySettings
from rag.text import query_terms, split_sentences
from rag.types import Encoder, EventSource, Evidence, Hit, Passage, Timeline, TimelineEvent

LEAD_SENTENCES = 2  # a news article states its event first


@dataclass(frozen=True)
class _Candidate:
    hit: Hit  # the article's best hit (title, date)
    start: int
    end: int
    quote: str
    lexical: float
    event: float
    lead: bool
    first: bool


def build(
    evidence: Evidence,
    encode: Encoder,
    settings: NewsSettings,
    *,
    limit: int = 12,
    since: date | None = None,
    until: date | None = None,
) -> Timeline:
    """The timeline of ``evidence.question`` (the topic) from its hits (module docstring).

    ``evidence.texts`` holds the article texts (each read once); ``encode`` should be
    ``evidence.encoder(...)``.
    """
    topic, hits, window = evidence.question, evidence.hits, _window(since, until)
    if not hits:
        terms = ", ".join(query_terms(topic)[:8])
        return Timeline(topic, [], f"no article matches the topic{window} (searched for: {terms})")
    by_doc: dict[str, list[Hit]] = {}
    for hit in hits:
        by_doc.setdefault(hit.doc_id, []).append(hit)
    texts = evidence.texts
    covering = {d: hs for d, hs in by_doc.items() if _covers(topic, hs, texts[d], settings)}
    if not covering:
        closest = max(hits, key=lambda h: h.dense or 0.0)
        missing = gate.unmentioned(topic, [f"{h.title}\n{texts[h.doc_id]}" for h in hits])
        if missing:
            return Timeline(topic, [], f"no article{window} mentions {', '.join(missing)}")
        why = (
            f"no article{window} is about the topic (closest: “{closest.title}”, similarity "
            f"{closest.dense or 0.0:.2f}, needed {settings.timeline_min_similarity:.2f})"
        )
        return Timeline(topic, [], why)
    candidates = {d: _candidates(topic, hs, texts[d]) for d, hs in covering.items()}
    candidates = {d: cs[: settings.timeline_sentences] for d, cs in candidates.items() if cs}
    if not candidates:
        return Timeline(
            topic, [], f"{_articles(len(covering))} about the topic{window} state no dated event"
        )
    flat = [c for cs in candidates.values() for c in cs]
    vectors = encode([topic] + [c.quote for c in flat])
    similarity = vectors[1:] @ vectors[0]
    best: dict[str, tuple[float, _Candidate, np.ndarray]] = {}
    for c, sim, vec in zip(flat, similarity, vectors[1:], strict=True):
        score = float(sim) + 0.5 * c.lexical + 0.3 * c.event + _lead_bonus(c)
        if c.hit.doc_id not in best or score > best[c.hit.doc_id][0]:
            best[c.hit.doc_id] = (score, c, vec)
    events = _merge(list(best.values()), encode, settings)
    kept = sorted(events, key=lambda e: -e[0])[:limit]
    ordered = sorted(kept, key=lambda e: (e[1].published or date.max, -e[0]))
    return Timeline(topic, [event for _, event in ordered])


def headings(
    timeline: Timeline,
    llm: BaseChatModel,
    encode: Encoder,
    settings: VerifySettings = VerifySettings(),  # noqa: B008 (frozen)
) -> Timeline:
    """The timeline with a one-line heading per event, each verified against its sentence.

    One model call for all events; a heading its event's sentence does not support (names,
    numbers, meaning: ``verify.verify``) is dropped, and so is a missing one.
    """
    if not timeline.events:
        return timeline
    quotes = [e.quote for e in timeline.events]
    lines = answer.write_headings(llm, timeline.topic, quotes)
    events = []
    for event, heading in zip(timeline.events, lines, strict=True):
        if heading:
            hit = Hit(
                "",
                event.doc_id,
                event.title,
                event.quote,
                event.start,
                event.end,
                0.0,
                published=event.published,
            )
            passage = Passage(1, hit, event.quote, event.start, event.end)
            checked = verify.verify(timeline.topic, f"{heading} [1].", [passage], encode, settings)
            heading = checked.text.replace(" [1]", "").strip() if checked.citations else ""
        events.append(replace(event, heading=heading or None))
    return replace(timeline, events=events)


def _covers(topic: str, hits: Sequence[Hit], article: str, settings: NewsSettings) -> bool:
    close = max((h.dense or 0.0) for h in hits) >= settings.timeline_min_similarity
    if not close and _keyword_share(topic, hits[0].title) < 1.0:  # a short topic ("fire")
        return False
    full = f"{hits[0].title}\n{article}"
    if gate.unmentioned(topic, [full]):
        return False
    return _keyword_share(topic, full) > 0.5


def _keyword_share(topic: str, passage: str) -> float:
    """The share of the topic's keywords in ``passage`` ("dock" is in "dockworkers")."""
    terms = [text.stem(t) for t in query_terms(topic)]
    if not terms:
        return 0.0
    words = {text.stem(w) for w in query_terms(passage)} | set(query_terms(passage))
    found = sum(1 for t in terms if t in words or any(w.startswith(t) for w in words))
    return found / len(terms)


def _candidates(topic: str, hits: Sequence[Hit], article: str) -> list[_Candidate]:
    """The article's eventful sentences in its lead and retrieved chunks, best first."""
    spans = split_sentences(article)
    out = []
    for i, (s, e) in enumerate(spans):
        lead = i < LEAD_SENTENCES
        if not lead and not any(h.start <= s and e <= h.end for h in hits):
            continue
        sentence = article[s:e]
        event = text.eventfulness(sentence)
        if event == 0 or text.is_instruction(sentence):
            continue
        share = _keyword_share(topic, sentence)
        out.append(_Candidate(hits[0], s, e, sentence, share, event, lead, i == 0))
    return sorted(out, key=lambda c: -(c.lexical + 0.3 * c.event + _lead_bonus(c)))


def _lead_bonus(c: _Candidate) -> float:
    """News states its event first: the first sentence 0.2, the second 0.1."""
    return 0.0 if not c.lead else 0.2 if c.first else 0.1


def _merge(
    scored: list[tuple[float, _Candidate, np.ndarray]], encode: Encoder, settings: NewsSettings
) -> list[tuple[float, TimelineEvent]]:
    """One event per story step: near-duplicate reports join the earliest one's sources."""
    scored.sort(key=lambda x: (x[1].hit.published or date.max, -x[0]))
    groups: list[tuple[float, _Candidate, np.ndarray, list[_Candidate]]] = []
    for score, c, vec in scored:
        for g, (g_score, first, g_vec, members) in enumerate(groups):
            if _same_event(first, g_vec, c, vec, encode, settings):
                groups[g] = (max(g_score, score), first, g_vec, [*members, c])
                break
        else:
            groups.append((score, c, vec, [c]))
    events = []
    for score, first, _, members in groups:
        sources = [EventSource(m.hit.doc_id, m.hit.title, m.hit.published) for m in members]
        hit = first.hit
        event = TimelineEvent(
            hit.published, hit.doc_id, hit.title, first.quote, first.start, first.end, sources
        )
        events.append((score, event))
    return events


def _same_event(
    a: _Candidate,
    va: np.ndarray,
    b: _Candidate,
    vb: np.ndarray,
    encode: Encoder,
    settings: NewsSettings,
) -> bool:
    da, db = a.hit.published, b.hit.published
    if da is None or db is None or abs((db - da).days) > settings.merge_days:
        return False
    if float(va @ vb) < settings.merge_similarity:
        return False
    pair = [
        disagree.Statement(
            c.hit.doc_id,
            c.hit.title,
            c.hit.published,
            c.quote,
            c.start,
            c.end,
            f"{c.hit.title}\n{c.quote}",
        )
        for c in (a, b)
    ]
    return not disagree.find(pair, encode, settings)


def _articles(n: int) -> str:
    return "the one article" if n == 1 else f"the {n} articles"


def _window(since: date | None, until: date | None) -> str:
    if since and until:
        return f" published between {since.isoformat()} and {until.isoformat()}"
    if since:
        return f" published since {since.isoformat()}"
    if until:
        return f" published until {until.isoformat()}"
    return ""
