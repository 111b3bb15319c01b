"""Sources that disagree: different values for the same thing in two articles.

Two sentences of different articles disagree when they state different values for one
thing ("killed 12" vs "killed 15", "on Monday" vs "on Tuesday"). Precision first: a false
"reports differ" is worse than none. Two values are compared only when everything says
they are the same slot:

- the same kind and unit (a count of people, euros, hectares, a magnitude, a day, a name);
- what they count agrees (``facts.classes``: killed vs injured, jobs cut vs staff employed,
  begins vs resumes are different things) and so do the words they count ("lamps" vs
  "toasters"), and for names the role ("head coach", "interior minister");
- each sentence's other names (places, companies) occur in the other article (a fire in
  Wexby and a fire in Allerby are two fires);
- they count the same way (a day's new cases vs the total since March; a year vs five
  years), in the same period ("in March" vs "in April"), and both state what happened (not
  "expect 50,000 visitors" against "drew 38,000");
- with the values masked, the sentences say the same (embedding cosine and shared words,
  ``NewsSettings.disagree_similarity`` / ``disagree_overlap``).

Values that agree ("about 3,000" and "3,200"; "at least 20" and "23"; "yesterday" in
Tuesday's paper and "on Monday" in Wednesday's) are no disagreement. A newer report that
revises an older one ("the toll has risen to 15") is an *update*: shown like any
disagreement, and the newer one is preferred when the question is about now.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from rag import facts
from rag.chunk import split_sentences
from rag.config import NewsSettings
from rag.context import numbered
from rag.types import Citation, Disagreement, Hit, Passage, Report, human_date

Encoder = Callable[[Sequence[str]], np.ndarray]
_GENERIC_ROLES = {"head coach": "coach", "spokesman": "spokesperson", "spokeswoman":
                  "spokesperson", "ceo": "chief executive", "chairman": "chair",
                  "chairwoman": "chair"}  # fmt: skip


@dataclass(frozen=True)
class Statement:
    """One sentence of one article, with the article's text (its context) and date."""

    doc_id: str
    title: str
    published: date | None
    sentence: str
    start: int  # article offsets of the sentence
    end: int
    context: str  # the article's title and text, to check the subject against


def statements(
    doc_id: str, title: str, published: date | None, text: str, start: int = 0,
    end: int | None = None, context: str | None = None,
) -> list[Statement]:  # fmt: skip
    """The sentences of ``text[start:end]`` as statements (offsets are ``text``'s)."""
    context = context if context is not None else f"{title}\n{text}"
    return [
        Statement(doc_id, title, published, text[s:e], s, e, context)
        for s, e in split_sentences(text, start, end)
    ]


Keep = Callable[[Statement, Statement], bool]


def find(
    items: Sequence[Statement], encode: Encoder, settings: NewsSettings, keep: Keep | None = None
) -> list[Disagreement]:
    """Every pair of statements from different articles that disagree, older report first.

    ``keep`` limits the pairs considered (checked before anything is embedded). Each pair of
    sentences is reported once (by its first disagreeing value).
    """
    memo: dict[int, list[facts.Value]] = {}

    def values(i: int) -> list[facts.Value]:  # read only for sentences in a kept pair
        if i not in memo:
            memo[i] = facts.values(items[i].sentence, items[i].published)
        return memo[i]

    candidates = []
    for i, a in enumerate(items):
        for j in range(i + 1, len(items)):
            b = items[j]
            if a.doc_id == b.doc_id or (keep is not None and not keep(a, b)):
                continue
            values_a, values_b = values(i), values(j)
            if not values_a or not values_b or not _same_setting(a, b, values_a, values_b):
                continue
            pair = _differing(values_a, values_b)
            if pair is None:
                continue
            va, vb = pair
            # Without a shared class of event or a role, only the counted noun or the unit
            # says the two values are one slot ("12,000 objects" held vs "3,000 objects" on
            # display): the rest of the sentences must then agree more.
            named = va.kind == "name" or bool(va.classes & vb.classes)
            needed = settings.disagree_overlap if named else settings.disagree_overlap_weak
            if _overlap(a, b, values_a, values_b) >= needed:
                candidates.append((a, b, va, vb, values_a, values_b))
    if not candidates:
        return []
    pairs = [
        (_masked(a, va, values_a), _masked(b, vb, values_b))
        for a, b, va, vb, values_a, values_b in candidates
    ]
    texts = list(dict.fromkeys(t for pair in pairs for t in pair))  # each embedded once
    vectors = dict(zip(texts, encode(texts), strict=True))
    found = []
    for (ta, tb), (a, b, va, vb, *_) in zip(pairs, candidates, strict=True):
        if float(vectors[ta] @ vectors[tb]) >= settings.disagree_similarity:
            found.append(_disagreement(a, b, va, vb))
    return found


def screen(
    question: str,
    passages: Sequence[Passage],
    hits: Sequence[Hit],
    encode: Encoder,
    article_text: Callable[[str], str | None],
    settings: NewsSettings,
) -> list[Passage]:
    """The passages the model should read: for a question about now, the newest reports.

    Runs before the model, so it looks only for what it would change: a passage sentence
    that a *later* sentence of the passages or of the retrieved chunks (``hits``) disputes.
    For a question about now (``facts.about_now``, with ``NewsSettings.prefer_newer``),
    each such sentence gives its place to the newest sentence disputing it (or goes, if that
    one is shown already), and so does the rest of its article when the article's title
    states the old value. A replacement much longer than the sentence it replaces is not
    made (the passages must stay within their token budget).
    """
    if not settings.prefer_newer or not facts.about_now(question):
        return list(passages)
    shown = _shown(passages)
    items, owner = _statements_of(passages, hits, article_text)

    def older_shown(a: Statement, b: Statement) -> bool:
        da, db = a.published or date.max, b.published or date.min
        return (_key(a) in shown and db > da) or (_key(b) in shown and da > db)

    found = find(items, encode, settings, keep=older_shown)
    newest: dict[tuple[str, int, int], Report] = {}
    headline: set[str] = set()  # articles whose title states the superseded value
    for d in found:
        old = (d.older.doc_id, d.older.start, d.older.end)
        best = newest.get(old)
        if old in shown and (
            best is None or (d.newer.published or date.min) > (best.published or date.min)
        ):
            newest[old] = d.newer
            if re.search(rf"(?<!\w){re.escape(d.older.value)}(?!\w)", d.older.title):
                headline.add(d.older.doc_id)
    if not newest:
        return list(passages)
    return _replaced(passages, newest, owner, shown, headline)


def cited(
    passages: Sequence[Passage],
    hits: Sequence[Hit],
    citations: Sequence[Citation],
    encode: Encoder,
    article_text: Callable[[str], str | None],
    settings: NewsSettings,
) -> list[Disagreement]:
    """The disagreements that touch what the answer rests on, each with ``used`` set.

    Runs after the model: a sentence of a passage the answer cites is compared with the
    other passages and the retrieved chunks (``hits``). ``used`` says which side the
    answer cites ("newer", "older" or "both").
    """
    by_n = {p.n: p for p in passages}
    spans = [(by_n[c.n].hit.doc_id, by_n[c.n].start, by_n[c.n].end) for c in citations
             if c.n in by_n]  # fmt: skip
    if not spans:
        return []

    def in_cited(doc_id: str, start: int, end: int) -> bool:
        return any(d == doc_id and s <= start and end <= e for d, s, e in spans)

    items, _ = _statements_of(passages, hits, article_text)
    found = find(
        items, encode, settings, keep=lambda a, b: in_cited(*_key(a)) or in_cited(*_key(b))
    )
    kept = []
    for d in found:
        older = in_cited(d.older.doc_id, d.older.start, d.older.end)
        newer = in_cited(d.newer.doc_id, d.newer.start, d.newer.end)
        kept.append(replace(d, used="both" if older and newer else "older" if older else "newer"))
    return kept


def _shown(passages: Sequence[Passage]) -> set[tuple[str, int, int]]:
    return {(p.hit.doc_id, p.start + s, p.start + e) for p in passages
            for s, e in split_sentences(p.text)}  # fmt: skip


def _statements_of(
    passages: Sequence[Passage], hits: Sequence[Hit], article_text: Callable[[str], str | None]
) -> tuple[list[Statement], dict[tuple[str, int, int], Hit]]:
    """The sentences of the passages' and the hits' chunks (each once), and their hits."""
    items: list[Statement] = []
    owner: dict[tuple[str, int, int], Hit] = {}
    texts: dict[str, str] = {}
    for hit in [p.hit for p in passages] + list(hits):
        if hit.doc_id not in texts:
            texts[hit.doc_id] = article_text(hit.doc_id) or ""
        text = texts[hit.doc_id]
        base = 0 if text else hit.start
        if not text:
            text = hit.text
        context = f"{hit.title}\n{text}"
        for st in statements(hit.doc_id, hit.title, hit.published, text, hit.start - base,
                             hit.end - base, context):  # fmt: skip
            st = replace(st, start=st.start + base, end=st.end + base)
            if _key(st) not in owner:
                owner[_key(st)] = hit
                items.append(st)
    return items, owner


# ---- the rules --------------------------------------------------------------------------


def _same_setting(
    a: Statement, b: Statement, values_a: list[facts.Value], values_b: list[facts.Value]
) -> bool:
    """Sentence-level conditions: same subject and scope, same way of counting and period."""
    if facts.scope(a.sentence) != facts.scope(b.sentence):  # worldwide vs one country
        return False
    ca, cb = facts.counting(a.sentence), facts.counting(b.sentence)
    if ca and cb and ca != cb:
        return False
    pa, pb = facts.periods(a.sentence), facts.periods(b.sentence)
    if pa and pb and pa != pb:
        return False
    return _same_subject(a, values_a, b, values_b)


def _same_subject(
    a: Statement, values_a: list[facts.Value], b: Statement, values_b: list[facts.Value]
) -> bool:
    """Whether the two sentences are about the same people, places and companies.

    The names of one sentence (but the disputed names) must all occur in the other article:
    a fire in Wexby and a fire in Allerby are two fires. One direction is enough (a
    follow-up report may leave out the spaceport), if that sentence names anything.
    """
    names_a, names_b = _names(a, values_a), _names(b, values_b)
    if not names_a and not names_b:
        return True
    return (
        bool(names_a) and _occur(names_a, b.context) or bool(names_b) and _occur(names_b, a.context)
    )


def _names(s: Statement, values: list[facts.Value]) -> list[str]:
    disputed = {t for v in values if v.kind == "name" for t in v.name}
    return [n for n in facts.subject_names(s.sentence) if n not in disputed]


def _occur(names: list[str], context: str) -> bool:
    words = set(re.findall(r"\w+", context.lower()))
    return all(
        n in words or (len(n) >= 5 and any(w.startswith(n[:5]) for w in words)) for n in names
    )


def _differing(
    values_a: list[facts.Value], values_b: list[facts.Value]
) -> tuple[facts.Value, facts.Value] | None:
    """A value of ``values_a`` and a comparable value of ``values_b`` that differs from it.

    A value that agrees with any comparable value of ``values_b`` is matched, not disputed.
    """
    for va in values_a:
        comparable = [vb for vb in values_b if _comparable(va, vb)]
        # A sentence listing several figures ("bread is up 4%, butter 9%") says which
        # is which by the words before each: then those must match too.
        if _listed(va, values_a) or any(_listed(vb, values_b) for vb in comparable):
            comparable = [vb for vb in comparable if va.local & vb.local]
        if comparable and not any(facts.same_value(va, vb) for vb in comparable):
            return va, comparable[0]
    return None


def _listed(v: facts.Value, values: list[facts.Value]) -> bool:
    """Whether a figure's sentence states another figure of the same unit."""
    return v.kind == "number" and any(
        w is not v and w.kind == v.kind and w.unit == v.unit for w in values
    )


def _comparable(a: facts.Value, b: facts.Value) -> bool:
    """Whether two values fill the same slot (what they count, their unit, their role)."""
    if a.kind != b.kind or a.modal != b.modal:
        return False
    if a.kind == "name":
        ra, rb = _GENERIC_ROLES.get(a.role, a.role), _GENERIC_ROLES.get(b.role, b.role)
        return ra == rb and not (a.qualifier and b.qualifier and a.qualifier != b.qualifier)
    shared = a.classes & b.classes
    if a.classes and b.classes and not shared:
        return False
    if a.kind == "date":
        # "has been moved to 4 November" names no event, but moves the one the other states.
        return bool(shared) or (not a.classes and a.moved) or (not b.classes and b.moved)
    if a.unit != b.unit:
        return False
    heads = a.heads & b.heads
    if a.heads and b.heads and not heads:
        return False
    return bool(shared or heads or a.unit)


def _masked(s: Statement, value: facts.Value, values: list[facts.Value]) -> str:
    return facts.masked(s.sentence, [v for v in values if v.kind == value.kind])


def _overlap(
    a: Statement, b: Statement, values_a: list[facts.Value], values_b: list[facts.Value]
) -> float:
    """Shared words of the two sentences outside their values: overlap coefficient."""
    wa = facts.frame_words(a.sentence, values_a)
    wb = facts.frame_words(b.sentence, values_b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def _disagreement(a: Statement, b: Statement, va: facts.Value, vb: facts.Value) -> Disagreement:
    da, db = a.published or date.min, b.published or date.min
    if (da, a.doc_id) > (db, b.doc_id):
        a, b, va, vb = b, a, vb, va
    same_day = a.published is None or b.published is None or a.published == b.published
    return Disagreement(
        kind=va.kind,
        older=_report(a, va),
        newer=_report(b, vb),
        same_day=same_day,
        update=not same_day and facts.revises(b.sentence),
    )


def _report(s: Statement, v: facts.Value) -> Report:
    value = v.text
    if v.kind == "date" and v.day and not re.search(r"\d", value):  # "Wednesday 11 June 2025"
        value = f"{value} {human_date(v.day)}"
    return Report(s.doc_id, s.title, s.published, s.sentence, s.start, s.end, value)


def _key(s: Statement) -> tuple[str, int, int]:
    return (s.doc_id, s.start, s.end)


def _replaced(
    passages: Sequence[Passage],
    newest: dict[tuple[str, int, int], Report],
    owner: dict[tuple[str, int, int], Hit],
    shown: set[tuple[str, int, int]],
    headline: set[str],
) -> list[Passage]:
    """The passages with each key of ``newest`` replaced by its report (or cut out).

    The other passages of an article in ``headline`` go too: the model reads each passage
    under its article's title, and that title states the superseded value ("Fire at
    Varnholt textile mill kills 12").
    """
    added: set[tuple[str, int, int]] = set()
    kept: list[Passage] = []
    for p in passages:
        runs: list[tuple[int, int]] = []
        for s, e in split_sentences(p.text):
            key = (p.hit.doc_id, p.start + s, p.start + e)
            new = newest.get(key)
            if new is None:
                if runs and runs[-1][0] >= 0:
                    runs[-1] = (runs[-1][0], e)
                else:
                    runs.append((s, e))
                continue
            runs.append((-1, -1))
            new_key = (new.doc_id, new.start, new.end)
            fits = len(new.quote) <= 1.5 * (e - s) + 40
            if new_key not in shown and new_key not in added and fits:
                added.add(new_key)
                kept.append(Passage(0, owner[new_key], new.quote, new.start, new.end))
        for s, e in runs:
            if s >= 0 and p.hit.doc_id not in headline:
                kept.append(Passage(0, p.hit, p.text[s:e], p.start + s, p.start + e))
    return numbered(kept)
