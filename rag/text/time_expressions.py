"""Time expressions in a question ("this week", "recently"): one reading for everyone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rag.text.days import MONTH

# ---- time expressions -----------------------------------------------------------------------

Scope = Literal["week", "fortnight", "month", "year", "last_year"]
_DAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# The first that matches wins, so the narrowest window comes first. How many days each
# scope allows is a setting (``[gate]``); "year" and "last_year" follow the calendar.
_TIME_EXPRESSIONS: list[tuple[Scope, re.Pattern[str]]] = [
    ("week", re.compile(
        rf"\bthis (week|weekend)\b|\b(today|yesterday|tonight|this morning)\b|\b(on|this) {_DAY}\b",
        re.IGNORECASE,
    )),
    # "next week": what happens next week was reported at most a week or two ago.
    ("fortnight", re.compile(rf"\b(last|past|next) (week|weekend|{_DAY})\b", re.IGNORECASE)),
    # A bare "now" means what "currently" means; "next month" was announced about as lately.
    ("month", re.compile(
        r"\b(recently|recent|latest|currently|right now|now|so far|this month|last month"
        r"|past month|next month)\b",
        re.IGNORECASE,
    )),
    ("year", re.compile(r"\b(this|next) year\b", re.IGNORECASE)),
    ("last_year", re.compile(r"\b(last|past) year\b", re.IGNORECASE)),
]  # fmt: skip


@dataclass(frozen=True)
class TimeExpression:
    """What a question's time words say: whether it is about "now", and how wide a window."""

    words: str | None = None  # as written ("this week"); None when the question has none
    scope: Scope | None = None

    @property
    def relative(self) -> bool:
        """Whether the question refers to time relative to when it is asked."""
        return self.scope is not None


def read_time(question: str) -> TimeExpression:
    """The question's time expression: one reading for retrieval and for the gate."""
    for scope, pattern in _TIME_EXPRESSIONS:
        if match := pattern.search(question):
            return TimeExpression(match.group(0), scope)
    return TimeExpression()


# ---- does a question ask about now? ----------------------------------------------------------

_ABOUT_PAST = re.compile(
    rf"\b(at first|initially|originally|first reported|before|back in|in (19|20)\d\d)\b"
    rf"|\b(on|in|of) {MONTH}\b|\b\d{{1,2}} {MONTH}\b",
    re.IGNORECASE,
)


def about_now(question: str) -> bool:
    """Whether a question asks about the present state of things.

    Not when it says "at first", "in March" or "on 3 June": then the newest report is not
    necessarily the one to prefer.
    """
    return not _ABOUT_PAST.search(question)
