"""Keywords and word forms: stop words, a shared stem, a place and its adjective."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.text.places import place_forms

# ---- keywords (query_terms, stopwords) ----------------------------------------------------

STOPWORDS = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how i if "
    "in into is it its me my no not of on or our she so than that the their them then there "
    "these they this to was we were what when where which who whom why will with would you "
    "your about after again also any because before being between both can could each few "
    "more most other over same should some such through under until very while week year".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """Lowercased keywords of a query, without stop words, in order, each once.

    Example:
        >>> query_terms("When did the Harbour Bridge open? The bridge!")
        ['harbour', 'bridge', 'open']
    """
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if (len(word) > 1 or word.isdigit()) and word not in STOPWORDS:
            seen.setdefault(word.replace("_", ""), None)
    return [w for w in seen if w]


# ---- word forms: a stem, and a place and its adjective ---------------------------------------

_STEM = 5  # words sharing their first five letters are one word ("hospital", "hospitals")


def same_stem(word: str, found: Iterable[str]) -> bool:
    """``word`` or a word with its first five letters is in ``found``."""
    if word in found:
        return True
    return len(word) >= _STEM and any(f.startswith(word[:_STEM]) for f in found)


def occurs(word: str, found: set[str]) -> bool:
    """``word`` or a form of it is in ``found`` ("hospitals", or "France" for "French").

    A place's other one-word names come from ``rag.text.places`` (codes such as "UK" need
    their capitals, which a set of lowercased words has lost, so they are left out here).
    """
    if same_stem(word, found):
        return True
    return any(len(form) >= 4 and form in found for form in place_forms(word) - {word})


def words(text: str) -> set[str]:
    """Every word of ``text``, lowercased."""
    return set(re.findall(r"\w+", text.lower()))


def stem(word: str) -> str:
    """A crude stem: without -ing, -ed, -es, -s, cut to five letters ("killed" -> "kill")."""
    word = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= (3 if suffix == "s" else 4):
            word = word[: -len(suffix)]
            break
    return word[:_STEM]
