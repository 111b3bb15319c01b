"""Figures a news sentence states, with what they count ("killed 12 people", "£3.2m", "62%").

Left out: increments ("two more"), parts ("eight of them", "the first two"), clock times,
years, ordinals, numbers in names ("Route 9", "A320") and figures in a clause giving
background ("... after three workers died").
"""

from __future__ import annotations

import re

from rag.text.clauses import Value, clause, clause_before, local_stems, main_part
from rag.text.days import CALENDAR
from rag.text.events import event_classes
from rag.text.words import query_terms, stem

_UNITS_WORDS = {
    w: i
    for i, w in enumerate(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split(),
        1,
    )
}
_TENS_WORDS = {
    w: 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_SMALL = "|".join(k for k in _UNITS_WORDS if k != "one")  # "one" is too often not a count
_NUMBER = re.compile(
    r"(?P<cur>[£$€])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<mag>\s?(?:million|billion|thousand|bn|m|k)\b)?(?P<pct>\s?(?:%|percent\b|per cent\b))?"
    rf"|\b(?P<word>(?:{'|'.join(_TENS_WORDS)})(?:-(?:{'|'.join(_UNITS_WORDS)}))?|{_SMALL})\b",
    re.IGNORECASE,
)
_MAGNITUDE = {"million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "thousand": 1e3, "k": 1e3}
_CURRENCY_WORDS = {"euros": "€", "euro": "€", "pounds": "£", "dollars": "$", "dollar": "$"}
# A unit word after a figure -> the unit it is compared in.
_MEASURES = dict(
    pair.split(":")
    for pair in (
        "hour:hours hours:hours minute:minutes minutes:minutes day:days days:days week:weeks "
        "weeks:weeks month:months months:months year:years years:years hectares:hectares "
        "acres:acres kilometres:km km:km miles:miles votes:votes"
    ).split()
)
_APPROX = re.compile(
    r"\b(about|around|roughly|some|nearly|almost|approximately|an estimated|estimated|close "
    r"to|just under|just over)\s+$",
    re.IGNORECASE,
)
_AT_LEAST = re.compile(r"\b(at least|more than|over|upwards of)\s+$", re.IGNORECASE)
_AT_MOST = re.compile(r"\b(up to|fewer than|less than|under|no more than)\s+$", re.IGNORECASE)
# "another 3", "a further 56", "two more workers", "eight of them": a part or an increment,
# not the figure itself.
_DELTA_BEFORE = re.compile(
    r"\b(another|a further|an additional|an extra|first|last)\s+$", re.IGNORECASE
)
_DELTA_AFTER = re.compile(r"^\s+(more|further|additional|extra|other|of them|of whom)\b", re.I)
_NAME_BEFORE = re.compile(r"\b[A-Z][a-z]+\s+$")  # "Route 9", "Pier 4": a name, not a count
_GLUED = re.compile(r"[A-Za-z]-?$")  # "A320", "COVID-19"
_CLOCK = re.compile(r"^\s*(a\.m\.|p\.m\.|am\b|pm\b|:\d\d|o'clock)", re.IGNORECASE)
_ORDINAL = re.compile(r"^(st|nd|rd|th)\b")
_YEAR = re.compile(r"^(19|20)\d\d$")
_MODAL = re.compile(
    r"\b(expects?|expected|forecasts?|could|may|might|can|capacity|would|up to|hopes?)\b",
    re.IGNORECASE,
)
# Words after a figure that say nothing of what it counts ("120,000 units").
_COUNTERS = frozenset({"units", "items", "pieces", "products", "cases", "times"})
_DWELLINGS = frozenset({"homes", "houses", "dwellings", "flats", "apartments", "households"})
_PEOPLE = frozenset(
    "people persons residents passengers workers fans civilians adults children pupils "
    "members villagers protesters employees staff".split()
)


def numbers(sentence: str, taken: list[tuple[int, int]] | None = None) -> list[Value]:
    """The figures of ``sentence`` (outside the spans in ``taken``), as ``Value``s."""
    taken = taken or []
    cut = main_part(sentence)
    found = []
    for m in _NUMBER.finditer(sentence):
        start, end = m.span()
        if start >= cut or any(s <= start < e for s, e in taken):
            continue
        before, after = sentence[:start], sentence[end:]
        if m.group("word"):
            number = _word_number(m.group("word"))
        else:
            raw = m.group("num")
            if _not_a_count(m, raw, before, after):
                continue
            number = float(raw.replace(",", ""))
            if m.group("mag"):
                number *= _MAGNITUDE[m.group("mag").strip().lower()]
        if _DELTA_BEFORE.search(before) or _DELTA_AFTER.match(after):
            continue
        lead = clause_before(sentence, start)
        modal = bool(_MODAL.search(lead + " " + " ".join(after.split()[:3])))
        found.append(
            Value(
                "number",
                m.group().strip(),
                start,
                end,
                number=number,
                unit=_unit(m, before, after),
                bound=_bound(before),
                heads=frozenset(_heads(after)),
                classes=event_classes(clause(sentence, start, end)),
                modal=modal,
                local=local_stems(lead),
            )
        )
    return found


def _not_a_count(m: re.Match[str], raw: str, before: str, after: str) -> bool:
    """A clock time, an ordinal, a year, or a number that is part of a name."""
    plain = not m.group("cur") and not m.group("pct")
    if _CLOCK.match(after) or _ORDINAL.match(after) or _GLUED.search(before):
        return True
    if _YEAR.match(raw) and plain:
        return True
    return bool(_NAME_BEFORE.search(before)) and len(before.split()) > 1 and plain


def _bound(before: str) -> str:
    if _APPROX.search(before):
        return "approx"
    if _AT_LEAST.search(before):
        return "min"
    return "max" if _AT_MOST.search(before) else ""


def _word_number(word: str) -> float:
    parts = word.lower().split("-")
    total = _TENS_WORDS.get(parts[0], 0) or _UNITS_WORDS.get(parts[0], 0)
    if len(parts) > 1:
        total += _UNITS_WORDS.get(parts[1], 0)
    return float(total)


def _unit(m: re.Match[str], before: str, after: str) -> str:
    if m.group("cur"):
        return m.group("cur")
    if m.group("pct"):
        return "%"
    if re.search(r"\bmagnitude\s+$", before, re.IGNORECASE) or after.startswith("-magnitude"):
        return "magnitude"
    if after.startswith("-year-old") or re.search(r"\baged\s+$", before, re.IGNORECASE):
        return "age"
    word = re.match(r"\s*(?:million\s+|billion\s+)?([A-Za-z]+)", after)
    if word:
        w = word.group(1).lower()
        if w in _CURRENCY_WORDS:
            return _CURRENCY_WORDS[w]
        if w in _MEASURES:
            return _MEASURES[w]
    return ""


def _heads(after: str) -> list[str]:
    """Up to three content words after a figure, to the next punctuation: what it counts."""
    words = []
    for w in re.findall(r"[A-Za-z][\w'-]*|[,.;:()]", after):
        if not w[0].isalpha() or w.lower() in {"after", "since", "when", "as", "because"}:
            break
        if w[0].isupper():  # a name ("for Quint"), not what is counted
            continue
        lw = w.lower()
        if lw in CALENDAR or lw in _MAGNITUDE or lw in _CURRENCY_WORDS:
            continue
        if lw in _COUNTERS:  # "120,000 units": says nothing of what is counted
            continue
        if lw in _PEOPLE:
            words.append("people")
        elif lw in _DWELLINGS:
            words.append("homes")
        elif query_terms(lw):
            words.append(stem(lw))
        if len(words) == 3:
            break
    return words
