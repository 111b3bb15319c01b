"""Days an article sentence names ("on Monday", "19 May", "yesterday"), resolved to dates.

A question's time words ("this week", "recently") are read by ``time_expressions``; this
module reads the days that a *report* states, against the date it was published.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        1,
    )
    for m in names
}
# Day and month names as words (not "may", which is more often the verb).
CALENDAR = frozenset(WEEKDAYS) | {m for m in MONTHS if len(m) > 3}
MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"
WEEKDAY = r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
DAY_MONTH = re.compile(
    rf"\b(?:{WEEKDAY},?\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+{MONTH}(?:,?\s+(\d{{4}}))?\b"
)
MONTH_DAY = re.compile(
    rf"\b(?:{WEEKDAY},?\s+)?{MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?"
)
ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
WEEKDAY_ONLY = re.compile(rf"\b{WEEKDAY}(?:'s)?\b")
RELATIVE_DAY = re.compile(
    r"\b(yesterday|today|tonight|tomorrow|this morning|this afternoon|this evening|last night"
    r"|overnight)\b",
    re.IGNORECASE,
)
RELATIVE_OFFSET = {
    "yesterday": -1,
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "this morning": 0,
    "this afternoon": 0,
    "this evening": 0,
    "last night": -1,
    "overnight": 0,
}
_RELATIVE_PERIOD = re.compile(r"\b(last|this|next) (week|month|year)\b")


def time_words(sentence: str) -> list[str]:
    """The expressions of time in a sentence: days, dates, "yesterday", "last month"."""
    found = [m.group() for m in WEEKDAY_ONLY.finditer(sentence)]
    found += [m.group() for m in RELATIVE_DAY.finditer(sentence)]
    found += [m.group() for m in DAY_MONTH.finditer(sentence)]
    found += [m.group() for m in MONTH_DAY.finditer(sentence)]
    found += [m.group() for m in ISO.finditer(sentence)]
    found += [m.group() for m in _RELATIVE_PERIOD.finditer(sentence)]
    return found


def safe_date(year: int, month: int, day: int) -> date | None:
    """The date, or None when there is no such day."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def calendar_day(
    day: int, month_name: str, year: str | None, published: date | None
) -> date | None:
    """A day such as "19 May": in its year if given, else the year nearest the article's date."""
    month = MONTHS[month_name.lower()]
    if year:
        return safe_date(int(year), month, day)
    if published is None:
        return None
    candidates = [safe_date(published.year + d, month, day) for d in (-1, 0, 1)]
    real = [c for c in candidates if c is not None]
    return min(real, key=lambda c: abs((c - published).days)) if real else None


def weekday(name: str, published: date, future: bool) -> date:
    """A weekday named in an article of ``published``: the one before (after if ``future``)."""
    target = WEEKDAYS.index(name.lower())
    if future:
        ahead = (target - published.weekday()) % 7 or 7
        return published + timedelta(days=ahead)
    return published - timedelta(days=(published.weekday() - target) % 7)


def human_date(day: date | None) -> str:
    """``2 June 2025`` (or "undated"): a date as the answers write it."""
    return f"{day.day} {day:%B %Y}" if day else "undated"
