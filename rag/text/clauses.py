"""A value a sentence states (``Value``) and the clause around it.

A *value* is a figure with what it counts ("killed 12 people": 12, people, class ``death``),
a day ("on Monday" in an article of Wednesday 11 June 2025: 9 June 2025) or a person's name
in a role ("head coach Marta Ilves"). What a value means depends on its clause: "has risen
to 15 after three workers died" states 15, and gives three as background.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from rag.text.days import CALENDAR
from rag.text.words import query_terms, stem

# The rest of the sentence after these words is the background of the figure ("has risen to
# 15 after three workers died"), not the figure.
_SUBORDINATE = re.compile(r"\b(after|since|including|compared with|up from|down from)\b", re.I)
_CLAUSE_WORD = re.compile(r"\b(after|since|when|because|while|including|although|before)\b", re.I)
# Words of reporting, not of what is reported ("officials said").
FRAME_STOP = frozenset(
    {"said", "says", "told", "according", "announced", "reported", "added", "officials"}
)


@dataclass(frozen=True)
class Value:
    """One stated value: a figure, a day or a name in a role, at ``sentence[start:end]``."""

    kind: str  # "number" | "date" | "name"
    text: str
    start: int
    end: int
    number: float | None = None
    day: date | None = None
    name: tuple[str, ...] = ()  # lowercased name tokens
    unit: str = ""  # "%", "£", "hours", "magnitude", ... ("" for a plain count)
    bound: str = ""  # "" exact, "approx", "min" (at least), "max" (up to)
    role: str = ""  # names: the role ("coach", "won women's race"); others: ""
    qualifier: str = ""  # names: the word before the role ("interior" minister)
    heads: frozenset[str] = frozenset()  # numbers: the words it counts ("people", "jobs")
    classes: frozenset[str] = frozenset()  # what its clause is about ("death", "begin", ...)
    modal: bool = False  # an expectation or capacity ("expect 50,000", "can carry up to 400")
    local: frozenset[str] = frozenset()  # stems of the words just before it ("butter rose")
    moved: bool = False  # a day its clause moves something to ("has been moved to 4 November")


def main_part(sentence: str) -> int:
    """Where the sentence turns to background ("... after three workers died")."""
    m = _SUBORDINATE.search(sentence)
    return m.start() if m else len(sentence)


def clause(sentence: str, start: int, end: int) -> str:
    """The clause around ``sentence[start:end]``.

    It is bounded by the nearest , ; : or dashes, or a word that starts a subordinate clause
    ("after", "when", "because").
    """
    left, right = _clause_bounds(sentence, start, end)
    return sentence[left:right]


def clause_before(sentence: str, start: int) -> str:
    """The part of the clause at ``start`` that comes before it."""
    return sentence[_clause_bounds(sentence, start, start)[0] : start]


def _clause_bounds(sentence: str, start: int, end: int) -> tuple[int, int]:
    marks = [i for i, c in enumerate(sentence) if c in ",;:–—"]
    words = [m.start() for m in _CLAUSE_WORD.finditer(sentence)]
    left = max([0] + [i + 1 for i in marks if i < start] + [i for i in words if i <= start])
    right = min([len(sentence)] + [i for i in marks + words if i >= end])
    return left, right


def local_stems(before: str) -> frozenset[str]:
    """Stems of the last four content words before a value in its clause."""
    words = [w for w in query_terms(before) if not w[0].isdigit() and w not in CALENDAR]
    return frozenset(stem(w) for w in words[-4:] if w not in FRAME_STOP)
