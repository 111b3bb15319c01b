"""What kind of answer a question asks for, and which words of a sentence could be one.

A sentence that restates the passage but not the thing asked ("What was the rocket's
destination?" -> "The rocket was launched into space.") passes every check of its words
against the passage, so verification asks a second question: does the sentence state
something of the asked kind that the question does not already state? "Who" wants a name,
"where" a place name, "when" a date or time, "how many" a number, and "what"/"which" some
word the question lacks. Words are compared as lemmas (simplemma), so "made" restates
"make" and "announced" restates "announce".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Literal

from rag.text.days import time_words
from rag.text.forms import cardinal
from rag.text.names import NUMBER, asks_quantity, normalise_numbers, without_options
from rag.text.sentences import split_sentences
from rag.text.words import STOPWORDS, occurs, query_terms

Kind = Literal["person", "place", "time", "quantity", "thing"]
# What an answer of each kind gives, for a refusal's reason and the retry's instruction.
WANTED: dict[Kind, str] = {
    "person": "the name of the person or group",
    "place": "the name of the place",
    "time": "the date or time",
    "quantity": "the number with its unit",
    "thing": "the thing asked for",
}

# The noun after "which"/"what" (up to two words before it: "which key state") that makes
# the asked thing a place or a time.
_PLACE_NOUNS = (
    "country|countries|state|states|city|cities|town|region|island|continent|area|nation|"
    "province|county|capital|location|place|village|neighbourhood|neighborhood"
)
_TIME_NOUNS = "year|date|day|month|time|decade|century|season|weekday"
_ASKING = re.compile(r"\b(who|whom|whose|where|when|what|which|how|why)\b", re.IGNORECASE)
_AFTER_WH = r"\s+(?:[\w’'-]+\s+){0,2}?"
_PLACE_AFTER = re.compile(rf"^{_AFTER_WH}(?:{_PLACE_NOUNS})\b", re.IGNORECASE)
_TIME_AFTER = re.compile(rf"^{_AFTER_WH}(?:{_TIME_NOUNS})\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*")
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d(?:s)?\b")
_MAGNITUDES = frozenset("dozen dozens hundred hundreds thousand thousands million millions "
                        "billion billions trillion half".split())  # fmt: skip
_MONTHS_SEASONS = frozenset(
    "january february march april may june july august september october november december "
    "spring summer autumn fall winter".split()
)


def asked_kind(question: str) -> Kind | None:
    """The kind of answer ``question`` asks for; None for "why", "how" (a manner) or yes/no.

    The asking sentence decides (the last one with a question mark: news-quiz questions
    often open with a sentence of background), and in it the first question word.
    """
    sentence = _asking_sentence(without_options(question))
    if asks_quantity(sentence):
        return "quantity"
    if not (m := _ASKING.search(sentence)):
        return None
    word, rest = m.group(1).lower(), sentence[m.end() :]
    if word in ("who", "whom", "whose"):
        return "person"
    if word == "where":
        return "place"
    if word == "when":
        return "time"
    if word in ("what", "which"):
        if _TIME_AFTER.match(rest):
            return "time"
        if _PLACE_AFTER.match(rest):
            return "place"
        return "thing"
    return None


def answer_terms(sentence: str, question: str, kind: Kind) -> list[str]:
    """The words of ``sentence`` that could be the answer of ``kind``, and ``question`` lacks.

    Lowercased, in order: names for a person or place, numbers (digits or number words) for
    a quantity, dates, days, months and years for a time, any content word for a thing.
    """
    asked = _lemmas(query_terms(normalise_numbers(without_options(question))))
    if kind == "quantity":
        found = _numbers(sentence)
    elif kind == "time":
        found = [w for t in time_words(sentence) for w in query_terms(t)]
        found += [y.lower() for y in _YEAR.findall(sentence)]
        found += [w for w in query_terms(sentence) if w in _MONTHS_SEASONS]
        found += _numbers(sentence)
    elif kind in ("person", "place"):
        found = _names(sentence)
    else:
        found = query_terms(normalise_numbers(sentence))
    return [w for w in dict.fromkeys(found) if not occurs(lemma(w), asked)]


def mentions_asked(question: str, texts: Iterable[str]) -> bool:
    """Whether one of ``texts`` states a content word of ``question``, compared as lemmas.

    An answer from a passage that shares no word with the question (not its subject, not
    what it says happened) answers some other question: "Which spare part is scarce at the
    plant?" answered from a sentence about fuel prices.
    """
    asked = {lemma(w) for w in query_terms(normalise_numbers(without_options(question)))}
    return any(asked & {lemma(w) for w in query_terms(normalise_numbers(t))} for t in texts)


def lemma(word: str) -> str:
    """The dictionary form of an English word ("made" -> "make"), lowercased."""
    return _lemmatize(word.lower())


@functools.cache
def _lemmatize(word: str) -> str:
    import simplemma  # its tables load on first use

    return str(simplemma.lemmatize(word, lang="en")).lower()


def _lemmas(words: Iterable[str]) -> set[str]:
    return {f for w in words for f in (w, lemma(w))}


def _asking_sentence(question: str) -> str:
    sentences = [question[s:e] for s, e in split_sentences(question)]
    asking = [s for s in sentences if "?" in s]
    return (asking or sentences or [question])[-1]


def _names(sentence: str) -> list[str]:
    """Capitalised words, the first one too unless it is a function word ("The", "It")."""
    found = [w for m in _CAPITALISED.finditer(sentence) for w in query_terms(m.group())]
    return [w for w in found if w not in STOPWORDS]


def _numbers(sentence: str) -> list[str]:
    """Figures in digits, number words ("six") and magnitudes ("dozens", "millions")."""
    digits = NUMBER.findall(normalise_numbers(sentence))
    spelled = [w for w in query_terms(sentence) if cardinal(w) or w in _MAGNITUDES]
    return [d.replace(",", "") for d in digits] + spelled
