"""Sources that disagree: different values for the same thing in two articles.

Two sentences of different articles disagree when they state different values for one
thing ("killed 12" vs "killed 15", "on Monday" vs "on Tuesday"). Precision first: a false
"reports differ" is worse than none. Two values are compared only when everything says
they are the same slot:

- the same kind and unit (a count of people, euros, hectares, a magnitude, a day, a name);
- what they count agrees (classes of events, ``rag.text.events``: killed vs injured, jobs
  cut vs staff employed, begins vs resumes are different things) and so do the words they
  count ("lamps" vs "toasters"), and for names the role ("head coach", "interior minister");
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from rag import text
from rag.config import NewsSettings
from rag.context import numbered
from rag.text import Value, human_date, split_sentences
from rag.types import Citation, Disagreement, Encoder, Evidence, Hit, Passage, Report


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
    doc_id: str,
    title: str,
    published: date | None,
    article: str,
    start: int = 0,
    end: int | None = None,
    context: str | None = None,
) -> list[Statement]:
    """The sentences of ``article[start:end]`` as statements (offsets are ``article``'s)."""
    context = context if context is not None else f"{title}\n{article}"
    return [
        Statement(doc_id, title, published, article[s:e], s, e, context)
        for s, e in split_sentences(article, start, end)
    ]


Keep = Callable[[Statement, Statement], bool]


def find(
    items: Sequence[Statement], encode: Encoder, settings: NewsSettings, keep: Keep | None = None
) -> list[Disagreement]:
    """Every pair of statements from different articles that disagree, older report first.

    ``keep`` limits the pairs considered (checked before anything is embedded). Each pair of
    sentences is reported once (by its first disagreeing value).
    """
    memo: dict[int, list[Value]] = {}

    def values(i: int) -> list[Value]:  # read only for sentences in a kept pair
        if i not in memo:
            memo[i] = text.values(items[i].sentence, items[i].published)
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
    evidence: Evidence, passages: Sequence[Passage], encode: Encoder, settings: NewsSettings
) -> list[Passage]:
    """The passages the model should read: for a question about now, the newest reports.

    Runs before the model, so it looks only for what it would change: a passage sentence
    that a *later* sentence of the passages or of the retrieved chunks (``evidence.hits``)
    disputes. For a question about now (``text.about_now``, with ``prefer_newer``),
    each such sentence gives its place to the newest sentence disputing it (or goes, if that
    one is shown already), and so does the rest of its article when the article's title
    states the old value. A replacement much longer than the sentence it replaces is not
    made (the passages must stay within their token budget).
    """
    if not settings.prefer_newer or not text.about_now(evidence.question):
        return list(passages)
    shown = _shown(passages)
    items, owner = _statements_of(passages, evidence.hits, evidence.texts)

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
    evidence: Evidence,
    passages: Sequence[Passage],
    citations: Sequence[Citation],
    encode: Encoder,
    settings: NewsSettings,
) -> list[Disagreement]:
    """The disagreements that touch what the answer rests on, each with ``used`` set.

    Runs after the model: a sentence of a passage the answer cites is compared with the
    other passages and the retrieved chunks (``evidence.hits``). ``used`` says which side
    the answer cites ("newer", "older" or "both").
    """
    by_n = {p.n: p for p in passages}
    spans = [
        (by_n[c.n].hit.doc_id, by_n[c.n].start, by_n[c.n].end) for c in citations if c.n in by_n
    ]
    if not spans:
        return []

    def in_cited(doc_id: str, start: int, end: int) -> bool:
        return any(d == doc_id and s <= start and end <= e for d, s, e in spans)

    items, _ = _statements_of(passages, evidence.hits, evidence.texts)
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
    return {
        (p.hit.doc_id, p.start + s, p.start + e)
        for p in passages
        for s, e in split_sentences(p.text)
    }


def _statements_of(
    passages: Sequence[Passage], hits: Sequence[Hit], texts: Mapping[str, str]
) -> tuple[list[Statement], dict[tuple[str, int, int], Hit]]:
    """The sentences of the passages' and the hits' chunks (each once), and their hits.

    ``texts`` are the articles' texts (``Evidence.texts``); a hit whose article could not
    be read is taken from its own text.
    """
    items: list[Statement] = []
    owner: dict[tuple[str, int, int], Hit] = {}
    for hit in [p.hit for p in passages] + list(hits):
        article = texts.get(hit.doc_id, "")
        base = 0
        if article[hit.start : hit.end] != hit.text:
            article, base = hit.text, hit.start
        context = f"{hit.title}\n{article}"
        for st in statements(
            hit.doc_id,
            hit.title,
            hit.published,
            article,
            hit.start - base,
            hit.end - base,
            context,
        ):
            st = replace(st, start=st.start + base, end=st.end + base)
            if _key(st) not in owner:
                owner[_key(st)] = hit
                items.append(st)
    return items, owner


# ---- the rules --------------------------------------------------------------------------


def _same_setting(a: Statement, b: Statement, values_a: list[Value], values_b: list[Value]) -> bool:
    """Sentence-level conditions: same subject and scope, same way of counting and period."""
    if text.worldwide(a.sentence) != text.worldwide(b.sentence):  # worldwide vs one country
        return False
    ca, cb = text.counting(a.sentence), text.counting(b.sentence)
    if ca and cb and ca != cb:
        return False
    pa, pb = text.periods(a.sentence), text.periods(b.sentence)
    if pa and pb and pa != pb:
        return False
    return _same_subject(a, values_a, b, values_b)


def _same_subject(a: Statement, values_a: list[Value], b: Statement, values_b: list[Value]) -> bool:
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


def _names(s: Statement, values: list[Value]) -> list[str]:
    disputed = {t for v in values if v.kind == "name" for t in v.name}
    return [n for n in text.subject_names(s.sentence) if n not in disputed]


def _occur(names: list[str], context: str) -> bool:
    words = set(re.findall(r"\w+", context.lower()))
    return all(
        n in words or (len(n) >= 5 and any(w.startswith(n[:5]) for w in words)) for n in names
    )


def _differing(values_a: list[Value], values_b: list[Value]) -> tuple[Value, Value] | None:
    """A value of ``values_a`` and a comparable value of ``values_b`` that differs from it.

    A value that agrees with any comparable value of ``values_b`` is matched, not disputed.
    """
    for va in values_a:
        comparable = [vb for vb in values_b if _comparable(va, vb)]
        # A sentence listing several figures ("bread is up 4%, butter 9%") says which
        # is which by the words before each: then those must match too.
        if _listed(va, values_a) or any(_listed(vb, values_b) for vb in comparable):
            comparable = [vb for vb in comparable if va.local & vb.local]
        if comparable and not any(text.same_value(va, vb) for vb in comparable):
            return va, comparable[0]
    return None


def _listed(v: Value, values: list[Value]) -> bool:
    """Whether a figure's sentence states another figure of the same unit."""
    return v.kind == "number" and any(
        w is not v and w.kind == v.kind and w.unit == v.unit for w in values
    )


def _comparable(a: Value, b: Value) -> bool:
    """Whether two values fill the same slot (what they count, their unit, their role)."""
    if a.kind != b.kind or a.modal != b.modal:
        return False
    if a.kind == "name":
        return text.same_role(a, b)
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


def _masked(s: Statement, value: Value, values: list[Value]) -> str:
    return text.masked(s.sentence, [v for v in values if v.kind == value.kind])


def _overlap(a: Statement, b: Statement, values_a: list[Value], values_b: list[Value]) -> float:
    """Shared words of the two sentences outside their values: overlap coefficient."""
    wa = text.frame_words(a.sentence, values_a)
    wb = text.frame_words(b.sentence, values_b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def _disagreement(a: Statement, b: Statement, va: Value, vb: Value) -> Disagreement:
    da, db = a.published or date.min, b.published or date.min
    if (da, a.doc_id) > (db, b.doc_id):
        a, b, va, vb = b, a, vb, va
    same_day = a.published is None or b.published is None or a.published == b.published
    return Disagreement(
        kind=va.kind,
        older=_report(a, va),
        newer=_report(b, vb),
        same_day=same_day,
        update=not same_day and text.revises(b.sentence),
    )


def _report(s: Statement, v: Value) -> Report:
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
