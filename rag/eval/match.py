"""Does an answer say the gold answer? A strict match, a normalised one, and choice parsing.

``contains_answer`` is the strict metric: the gold string, normalised as text, within the
answer. It undercounts answers that are right in other words, so ``matches_normalized``
also reads numbers and units (``$4.2 million`` = ``4,200,000 dollars``, ``twelve`` =
``12``, ``six months`` answers ``6``) with quantulum3, country names and short forms
(``U.S.`` = ``United States``) with pycountry plus a few aliases, and plurals (``ferries``
= ``ferry``) with inflect. Hypernyms (``snake`` for ``Burmese python``) stay unmatched.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.eval.gold import LETTERS

# ---- strict ---------------------------------------------------------------------------------

_MARKERS = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
_APOSTROPHES = frozenset("'’ʼ`")
_POSSESSIVE = re.compile(r"(?<=\w)['’ʼ]s\b")


def normalize(text: str) -> str:
    """Lowercase; drop punctuation and the articles a/an/the; collapse whitespace.

    ``[n]`` citation markers go, and so does a possessive ``'s`` (``Norway's`` = ``norway``:
    "Norway's new fisheries minister" answers "Norway"). Other apostrophes and the dots of
    abbreviations are deleted (``O'Neill`` = ``oneill``, ``U.S.`` = ``us``), thousands
    separators too (``1,000`` = ``1000``); a decimal point stays (``1.5`` != ``15``); other
    punctuation separates words (``state-run`` = ``state run``, ``Ruiz.[1]`` = ``ruiz``).

    Example:
        >>> normalize("The U.K. spent $1,200.5 on a state-run “lantern” fair [2].")
        'uk spent $1200.5 on state run lantern fair'
    """
    text = unicodedata.normalize("NFKC", _MARKERS.sub(" ", text)).casefold()
    text = _POSSESSIVE.sub("", text)
    out: list[str] = []
    for i, ch in enumerate(text):
        if not unicodedata.category(ch).startswith("P"):
            out.append(ch)
            continue
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        if ch == "." and before.isdigit() and after.isdigit():
            out.append(ch)
        elif ch in _APOSTROPHES or (ch == "," and before.isdigit() and after.isdigit()):
            continue
        elif ch == "." and before.isalpha() and (after.isalpha() or _abbreviation(text, i)):
            continue
        else:
            out.append(" ")
    text = re.sub(r"\b(a|an|the)\b", " ", "".join(out))
    return " ".join(text.split())


def _abbreviation(text: str, i: int) -> bool:
    """Whether the dot at ``i`` ends a dotted abbreviation such as ``U.S.`` (``x.y.`` form)."""
    return i >= 2 and text[i - 2] == "." and text[i - 1].isalpha()


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether some gold answer occurs in ``text``, both normalised, on word boundaries."""
    haystack = f" {normalize(text)} "
    return any(gold and f" {gold} " in haystack for gold in map(normalize, answers))


def token_recall(text: str, answers: Iterable[str]) -> float:
    """The best share of a gold answer's (normalised) words found in ``text``."""
    words = Counter(normalize(text).split())
    best = 0.0
    for gold in answers:
        want = Counter(normalize(gold).split())
        if want:
            best = max(best, sum((want & words).values()) / sum(want.values()))
    return best


# ---- normalised: numbers and units, countries, plurals ---------------------------------------

# Country short forms pycountry does not know by these names (its names, official names,
# common names and "Name, Republic of" heads are read from the package itself).
_COUNTRY_ALIASES = {
    "US": "USA",
    "U.S.": "USA",
    "USA": "USA",
    "U.S.A.": "USA",
    "UK": "GBR",
    "U.K.": "GBR",
    "Britain": "GBR",
    "Great Britain": "GBR",
    "Russia": "RUS",
    "Turkey": "TUR",
    "UAE": "ARE",
}
# News shorthand quantulum3 misreads ("$1.2bn" as barn-newtons, "40.3C" as coulombs).
_SHORTHAND = [
    (re.compile(r"([$£€]\s?\d[\d,.]*)\s?bn\b"), r"\1 billion"),
    (re.compile(r"([$£€]\s?\d[\d,.]*)\s?m\b"), r"\1 million"),
    (re.compile(r"(\d)\s?°?\s?C\b"), r"\1 degrees Celsius"),
    (re.compile(r"(\d)\s?°?\s?F\b"), r"\1 degrees Fahrenheit"),
    (re.compile(r"\bper cent\b", re.IGNORECASE), "percent"),
]


@dataclass(frozen=True)
class Reading:
    """A text as the normalised match sees it: its quantities, then its other words."""

    quantities: tuple[tuple[float, str], ...]  # (value, unit name)
    words: tuple[str, ...]  # normalised, countries as codes, nouns singular


def read(text: str) -> Reading:
    """The quantities and the remaining (normalised) words of ``text``.

    Example:
        >>> read("The U.S. paid $4.2 million for two ferries [1].")
        Reading(quantities=((4200000.0, 'dollar'), (2.0, 'dimensionless')), words=('usacountry', 'paid', 'for', 'ferry'))
    """  # noqa: E501
    text = _MARKERS.sub(" ", text)
    for pattern, replacement in _SHORTHAND:
        text = pattern.sub(replacement, text)
    quantities, rest, end = [], [], 0
    for found in _parse_quantities(text):
        start, stop = found.span
        quantities.append((float(found.value), str(found.unit.name)))
        rest.append(text[end:start])
        end = stop
    rest.append(text[end:])
    words = normalize(_countries(" , ".join(rest))).split()
    return Reading(tuple(quantities), tuple(_singular(w) for w in words))


def matches_normalized(text: str, answers: Iterable[str]) -> bool:
    """Whether ``text`` says some gold answer, reading numbers, units, countries and plurals.

    Every quantity of the gold answer must be in the text with the same value and unit
    (or no unit on one side: ``6`` is answered by ``six months``); the gold's other words
    must then all be in the text (as a phrase when the gold has no quantity). A strict
    match is always a normalised one.

    Example:
        >>> matches_normalized("It cost 4,200,000 dollars [1].", ["$4.2 million"])
        True
    """
    answers = [a for a in answers if a.strip()]
    if contains_answer(text, answers):
        return True
    said = read(text)
    return any(_covers(said, read(gold)) for gold in answers)


def _covers(said: Reading, gold: Reading) -> bool:
    if not gold.quantities and not gold.words:
        return False
    for value, unit in gold.quantities:
        if not any(_same_quantity(value, unit, v, u) for v, u in said.quantities):
            return False
    if gold.quantities:
        return set(gold.words) <= set(said.words)
    n = len(gold.words)
    return any(said.words[i : i + n] == gold.words for i in range(len(said.words) - n + 1))


def _same_quantity(value: float, unit: str, other: float, other_unit: str) -> bool:
    if not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9):
        return False
    return unit == other_unit or "dimensionless" in (unit, other_unit)


def _parse_quantities(text: str) -> list[Any]:
    parser = _quantity_parser()
    try:
        return list(parser.parse(text))
    except Exception:  # a parser bug on odd text must not sink a run: no quantities then
        return []


@functools.cache
def _quantity_parser() -> Any:
    with warnings.catch_warnings():  # it warns that its optional classifier is missing
        warnings.simplefilter("ignore")
        from quantulum3 import parser
    return parser


def _countries(text: str) -> str:
    """``text`` with every country name or short form replaced by ``<alpha-3>country``."""
    pattern, codes = _country_names()
    return pattern.sub(lambda m: f" {codes[m.group(0)].lower()}country ", text)


@functools.cache
def _country_names() -> tuple[re.Pattern[str], dict[str, str]]:
    import pycountry

    names: dict[str, set[str]] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            if name := getattr(country, attr, None):
                for form in {name, name.split(", ")[0]}:
                    names.setdefault(form, set()).add(country.alpha_3)
    for alias, code in _COUNTRY_ALIASES.items():
        names[alias] = {code}
    codes = {name: next(iter(c)) for name, c in names.items() if len(c) == 1}  # unambiguous
    alternatives = "|".join(map(re.escape, sorted(codes, key=len, reverse=True)))
    # Case-sensitive: "US" is the country, "us" the pronoun.
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?!\w)"), codes


def _singular(word: str) -> str:
    if len(word) < 4 or not word.endswith("s") or word.endswith("ss"):
        return word
    return _inflect().singular_noun(word) or word


@functools.cache
def _inflect() -> Any:
    import inflect

    return inflect.engine()


# ---- multiple choice ------------------------------------------------------------------------


def choice_question(question: str, choices: Sequence[str]) -> str:
    """The multiple-choice form of a question: lettered options and how to reply.

    Example:
        >>> choice_question("Who opened the fair?", ["Ada Lund", "Ben Osei"])
        'Who opened the fair? Options: (A) Ada Lund; (B) Ben Osei. Reply with the letter and the text of the correct option, then cite the passage.'

    The option's text is asked for, not just its letter: the assistant keeps only answer
    sentences whose words it finds in the cited passage, and a bare letter has none.
    """  # noqa: E501
    options = "; ".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(choices))
    return (
        f"{question.strip()} Options: {options}. Reply with the letter and the text of "
        "the correct option, then cite the passage."
    )


def parse_choice(text: str, choices: Sequence[str]) -> int | None:
    """The option an answer picked: by its letter, else by its text; None if unclear.

    Example:
        >>> parse_choice("(C) Ben Osei [1].", ["Ada Lund", "Cleo Park", "Ben Osei"])
        2
        >>> parse_choice("A new law passed [1].", ["x", "y"]) is None
        True
    """
    letters = LETTERS[: len(choices)]
    if not letters:
        return None
    one = f"[{letters}]"
    patterns = (
        rf"\(({one})\)",  # (B)
        rf"\b(?i:answer|option|choice)\s*(?i:is\s*)?:?\s*\(?({one})\b",  # answer: B
        rf"^[\W_]*({one})(?:[).:\]*]|\s*\[|\s*$)",  # B) / B. / B [1] / B
    )
    for pattern in patterns:
        if match := re.search(pattern, text.strip()):
            return letters.index(match.group(1))
    found = [i for i, c in enumerate(choices) if normalize(c) and contains_answer(text, [c])]
    if not found:
        return None
    return max(found, key=lambda i: len(normalize(choices[i])))  # the most specific option
