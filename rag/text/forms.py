"""Whether texts mention a name in any form news writes it.

A question's names must be in the articles before they may answer it (``rag.gate``), but a
question says "UK" where an article says "Britain", "PSL" for "pumpkin spice latte",
"WWII" for "the Second World War", "a European island" where the article names Italy, and
"ferry" where it says "ferries". Each form is tried in turn: the word or its stem, a
singular or plural, the place's other names (``rag.text.places``), and an acronym spelled
by the initials of consecutive words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.text.places import mentions_any, place_forms, region_forms
from rag.text.words import occurs

_TOKEN = re.compile(r"[A-Za-z]+|\d+")
_ROMAN = re.compile(r"^(X{0,3})(IX|IV|V?I{0,3})$")
_SKIPPABLE = frozenset({"of", "the", "and", "for", "on", "in", "de"})
_LONGEST_ACRONYM = 8


@dataclass(frozen=True)
class Haystack:
    """Texts to search, read once: as written, lowercased, and as a set of words."""

    text: str
    lowered: str
    words: frozenset[str]

    @classmethod
    def of(cls, texts: Iterable[str]) -> Haystack:
        """The texts joined."""
        text = "\n".join(texts)
        lowered = text.lower()
        return cls(text, lowered, frozenset(re.findall(r"\w+", lowered)))

    @functools.cached_property
    def tokens(self) -> list[str]:
        """Words and numbers as written, for reading acronyms off their initials."""
        return _TOKEN.findall(self.text)


def mentioned(name: str, hay: Haystack, *, acronym: bool = False) -> bool:
    """Whether ``hay`` states ``name`` (lowercased) in any of its forms.

    ``acronym``: the question wrote it in capitals ("PSL"), so the initials of consecutive
    words of the text may spell it.
    """
    if acronym and len(name) <= 3:  # a short code in capitals: "US" is not the pronoun "us"
        if mentions_any({name}, hay.text, hay.lowered, set()):
            return True
    elif occurs(name, set(hay.words)) or _number_form(name, hay.words):
        return True
    others = (place_forms(name) | region_forms(name)) - {name}
    if others and mentions_any(others, hay.text, hay.lowered, set(hay.words)):
        return True
    return acronym and _spelled(name, hay)


def _number_form(word: str, found: frozenset[str]) -> bool:
    """A singular for a plural and back ("ferry" / "ferries", "bus" / "buses")."""
    if len(word) < 3 or not word.isalpha():
        return False
    forms = {word + "s", word + "es"}
    if word.endswith("ies"):
        forms.add(word[:-3] + "y")
    elif word.endswith("y"):
        forms.add(word[:-1] + "ies")
    if word.endswith("es"):
        forms.add(word[:-2])
    if word.endswith("s"):
        forms.add(word[:-1])
    return bool(forms & found)


def _spelled(acronym: str, hay: Haystack) -> bool:
    """Whether consecutive words of ``hay`` have ``acronym``'s letters as initials."""
    wanted = _acronym_keys(acronym)
    tokens = hay.tokens
    for start in range(len(tokens)):
        for length in range(2, _LONGEST_ACRONYM + 1):
            phrase = tokens[start : start + length]
            if len(phrase) < length:
                break
            if _phrase_keys(phrase) & wanted:
                return True
    return False


def _acronym_keys(acronym: str) -> set[str]:
    """The acronym as letters, and with a trailing numeral as a number ("wwii" -> "ww2")."""
    keys = {acronym.lower()}
    if match := re.match(r"^([a-z]+?)([ivx]+|\d+)$", acronym.lower()):
        letters, numeral = match.groups()
        number = _number(numeral.upper()) if not numeral.isdigit() else int(numeral)
        if number:
            keys.add(f"{letters}{number}")
    return keys


def _phrase_keys(phrase: list[str]) -> set[str]:
    """Initials of a phrase, numbers kept whole; with and without its little words.

    An ordinal in front goes last, so "Second World War" reads like "World War II".
    """
    keys = set()
    for words in (phrase, [w for w in phrase if w.lower() not in _SKIPPABLE]):
        if not words or words[0].lower() in _SKIPPABLE:
            continue
        parts = [_initial(w) for w in words]
        if parts and _ordinal(words[0]) is not None:
            parts = parts[1:] + parts[:1]
        keys.add("".join(parts))
    return keys


def _initial(word: str) -> str:
    """A word's first letter, or the number it writes (digits, a numeral, a number word)."""
    number = _ordinal(word) or _number(word) or cardinal(word)
    return str(number) if number else word[0].lower()


def _number(token: str) -> int | None:
    """The value of a Roman numeral written in capitals (II, XIV), else None."""
    if not token or not _ROMAN.match(token) or not token.isupper():
        return None
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for i, char in enumerate(token):
        value = values[char]
        total += -value if i + 1 < len(token) and values[token[i + 1]] > value else value
    return total or None


@functools.cache
def _number_words() -> tuple[dict[str, int], dict[str, int]]:
    """Cardinal and ordinal number words up to twenty ("two", "second"), from num2words."""
    from num2words import num2words

    cardinals = {num2words(n): n for n in range(1, 21)}
    ordinals = {num2words(n, to="ordinal"): n for n in range(1, 21)}
    return cardinals, ordinals


def cardinal(word: str) -> int | None:
    """The value of a number in digits or a number word up to twenty ("six"), else None."""
    if word.isdigit():
        return int(word)
    return _number_words()[0].get(word.lower())


def _ordinal(word: str) -> int | None:
    return _number_words()[1].get(word.lower())
