"""Keywords and word forms: stop words, a shared stem, a place and its adjective."""

from __future__ import annotations

import re
from collections.abc import Iterable

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

# Places and their adjectives that share no 5-letter prefix ("Dutch cheese" is supported
# by "the Netherlands' best-known export"); "Germany"/"German" and the like need none.
_PLACE_ADJECTIVES = {
    "britain": "british", "china": "chinese", "cuba": "cuban", "denmark": "danish",
    "egypt": "egyptian", "england": "english", "finland": "finnish", "france": "french",
    "greece": "greek", "iran": "iranian", "iraq": "iraqi", "ireland": "irish",
    "italy": "italian", "japan": "japanese", "kenya": "kenyan", "lebanon": "lebanese",
    "netherlands": "dutch", "norway": "norwegian", "peru": "peruvian",
    "philippines": "filipino", "poland": "polish", "qatar": "qatari", "scotland": "scottish",
    "spain": "spanish", "sweden": "swedish", "switzerland": "swiss", "syria": "syrian",
    "thailand": "thai", "turkey": "turkish", "wales": "welsh", "yemen": "yemeni",
}  # fmt: skip
_OTHER_FORM = _PLACE_ADJECTIVES | {adj: place for place, adj in _PLACE_ADJECTIVES.items()}
_STEM = 5  # words sharing their first five letters are one word ("hospital", "hospitals")


def same_stem(word: str, found: Iterable[str]) -> bool:
    """``word`` or a word with its first five letters is in ``found``."""
    if word in found:
        return True
    return len(word) >= _STEM and any(f.startswith(word[:_STEM]) for f in found)


def occurs(word: str, found: set[str]) -> bool:
    """``word`` or a form of it is in ``found`` ("hospitals", or "France" for "French")."""
    return same_stem(word, found) or _OTHER_FORM.get(word) in found


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
