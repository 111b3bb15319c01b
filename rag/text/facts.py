"""What a news sentence states: its values, and how it states them.

The values are figures (``figures``), days resolved against the article's date (here) and
names in a role (``roles``), each a ``Value``. What makes two of them comparable is read
here too: the periods a sentence speaks of, how it counts (a day's new cases or a total),
whether it counts worldwide, its other names and the words of its frame. Everything is
read with regular expressions and word lists: cheap, predictable, and tuned for precision
on tests/data/disagreements (docs/news.md).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from rag.text.clauses import FRAME_STOP, Value, clause, clause_before, main_part
from rag.text.days import (
    CALENDAR,
    DAY_MONTH,
    ISO,
    MONTH,
    MONTH_DAY,
    RELATIVE_DAY,
    RELATIVE_OFFSET,
    WEEKDAY_ONLY,
    calendar_day,
    safe_date,
    weekday,
)
from rag.text.events import event_classes, last_event_class, moves
from rag.text.figures import numbers
from rag.text.names import names
from rag.text.roles import role_names
from rag.text.words import query_terms, stem

_FUTURE = re.compile(
    r"\b(will|would|due|set to|to (begin|end|start|resume|reopen|open|run|close|finish)|until"
    r"|till|next|from|expected|plans?|scheduled|delayed to|moved to|postponed to)\b",
    re.IGNORECASE,
)
_REPORTING = re.compile(
    r"\b(said|says|announced|told \w+|reported|confirmed|added|according to [\w' ]+|statement)"
    r"\s+(?:\w+\s+){0,2}$",
    re.IGNORECASE,
)
_PERIOD_MONTH = re.compile(rf"\b(?:in|for|during|since)\s+{MONTH}\b(?!\s+\d)")
_PERIOD_YEAR = re.compile(r"\b(?:in|for|during|of)\s+((?:19|20)\d\d)\b|\b(this|last|next) year\b")
_CUMULATIVE = re.compile(
    r"\b(total|so far|in all|overall|cumulative|altogether|to date|since)\b", re.IGNORECASE
)
_PER_PERIOD = re.compile(
    r"\b(new|daily|alone|that day|overnight|in the past 24 hours|a day|per day|each day)\b",
    re.IGNORECASE,
)
_WORLD = re.compile(r"\b(globally|worldwide|around the world|across the world|global)\b", re.I)
_RATE = re.compile(r"\b(a|per|each) (year|month|week|day)\b|\bannual(ly)?\b", re.IGNORECASE)
_SPAN = re.compile(r"\bover (the next )?(\w+) (years|months|weeks|days)\b", re.IGNORECASE)


def values(sentence: str, published: date | None = None) -> list[Value]:
    """The figures, days and names in roles that ``sentence`` states as facts.

    Left out: figures and days in a clause giving background ("... after three workers
    died"), increments ("two more"), parts ("eight of them"), clock times, years, ordinals,
    numbers that are part of a name ("Route 9"), and the days on which someone *said*
    something ("the union said on Friday").
    """
    stated = stated_days(sentence, published)
    taken = [(v.start, v.end) for v in stated]
    return numbers(sentence, taken) + stated + role_names(sentence)


def stated_days(sentence: str, published: date | None = None) -> list[Value]:
    """The days ``sentence`` states, resolved against the article's publication date.

    "on Monday" is the Monday before ``published`` (or after it, when the sentence speaks of
    the future: "will end on Sunday"); "yesterday" the day before. Days on which something
    was said are left out, and so is everything that cannot be resolved.
    """
    found: list[Value] = []

    def add(start: int, end: int, day: date | None) -> None:
        if day is None or any(v.start <= start < v.end for v in found):
            return
        if _REPORTING.search(sentence[:start]):
            return
        before = clause_before(sentence, start)
        kinds = last_event_class(before) or event_classes(clause(sentence, start, end))
        value = Value(
            "date", sentence[start:end], start, end, day=day, classes=kinds, moved=moves(before)
        )
        found.append(value)

    for m in ISO.finditer(sentence):
        add(*m.span(), safe_date(int(m[1]), int(m[2]), int(m[3])))
    for m in DAY_MONTH.finditer(sentence):
        add(*m.span(), calendar_day(int(m[2]), m[3], m[4], published))
    for m in MONTH_DAY.finditer(sentence):
        add(*m.span(), calendar_day(int(m[3]), m[2], m[4], published))
    if published is not None:
        for m in WEEKDAY_ONLY.finditer(sentence):
            future = bool(_FUTURE.search(clause_before(sentence, m.start())))
            add(*m.span(), weekday(m[1], published, future))
        for m in RELATIVE_DAY.finditer(sentence):
            add(*m.span(), published + timedelta(days=RELATIVE_OFFSET[m[1].lower()]))
    return sorted(found, key=lambda v: v.start)


def same_value(a: Value, b: Value) -> bool:
    """Whether two values of one kind agree (allowing for "about" and "at least")."""
    if a.kind != b.kind:
        return False
    if a.kind == "date":
        return a.day == b.day
    if a.kind == "name":
        return set(a.name) <= set(b.name) or set(b.name) <= set(a.name)
    assert a.number is not None and b.number is not None
    x, y = a.number, b.number
    if abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1.0):
        return True
    if "approx" in (a.bound, b.bound):
        return abs(x - y) <= 0.1 * max(abs(x), abs(y))
    if a.bound == "min" and y >= x or b.bound == "min" and x >= y:
        return True
    return a.bound == "max" and y <= x or b.bound == "max" and x <= y


def periods(sentence: str) -> frozenset[str]:
    """The months and years a sentence puts its figures in ("in March", "in 2024")."""
    found = {m.group(1).lower() for m in _PERIOD_MONTH.finditer(sentence)}
    for m in _PERIOD_YEAR.finditer(sentence):
        found.add(m.group(1) or f"{m.group(2).lower()} year")
    return frozenset(found)


def counting(sentence: str) -> str:
    """How a sentence counts: "cumulative", "period", "rate", "span" or "" (plainly).

    A total so far ("since March") is cumulative, one day's figure ("new", "on Tuesday
    alone") a period, "a year" a rate and "over five years" a span.
    """
    if _RATE.search(sentence):
        return "rate"
    if _SPAN.search(sentence):
        return "span"
    if _CUMULATIVE.search(sentence):
        return "cumulative"
    if _PER_PERIOD.search(sentence):
        return "period"
    return ""


def worldwide(sentence: str) -> bool:
    """Whether the sentence counts worldwide ("globally"), not in one place."""
    return bool(_WORLD.search(sentence))


def subject_names(sentence: str) -> list[str]:
    """The sentence's names (``text.names``) without days and months, each once."""
    return [n for n in dict.fromkeys(names(sentence)) if n not in CALENDAR]


def frame_words(sentence: str, skip: list[Value]) -> set[str]:
    """The content words of a sentence's main part outside its values and names, as stems.

    The main part ends where the sentence turns to background ("... after three workers
    died in hospital overnight").
    """
    for v in sorted(skip, key=lambda v: -v.start):
        sentence = sentence[: v.start] + " " * (v.end - v.start) + sentence[v.end :]
    sentence = sentence[: main_part(sentence)]
    own = set(subject_names(sentence))
    return {
        stem(w)
        for w in query_terms(sentence)
        if not w[0].isdigit() and w not in own and w not in CALENDAR and w not in FRAME_STOP
    }


def masked(sentence: str, skip: list[Value]) -> str:
    """The sentence with the given values replaced by "#" (to compare what is said of them)."""
    for v in sorted(skip, key=lambda v: -v.start):
        sentence = sentence[: v.start] + "#" + sentence[v.end :]
    return sentence
