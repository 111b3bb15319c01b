"""Names and numbers a sentence states, and what a question is about (its subject)."""

from __future__ import annotations

import re

from rag.text.sentences import split_sentences

# ---- names and numbers ----------------------------------------------------------------------

NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_DIGIT = re.compile(r"\d")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]+")
_NUMBER_WORDS = {"percent": "%", "per cent": "%"}
_OPTIONS = re.compile(r"\bOptions:")
# Three or more capitals (and digits): "PSL", "WWII", "WW2". Two-letter codes ("US", "UK")
# stay ordinary names: required in capitals they refused a US story that never says "US"
# (one right answer fewer on the check half, none more on the tuning half).
_ACRONYM = re.compile(r"\b[A-Z](?=[A-Z0-9]*[A-Z])[A-Z0-9]{2,}\b")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_CALENDAR = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
}  # fmt: skip
_QUANTITY_QUESTION = re.compile(
    r"\bhow (many|much|long|old|far|big)\b|\bwhat (percentage|number|amount|age)\b|\bpercent",
    re.IGNORECASE,
)


def names(sentence: str) -> list[str]:
    """Capitalised words of a sentence (lowercased), but its first word."""
    found = [m.group().lower() for m in _CAPITALISED.finditer(sentence) if m.start() > 0]
    parts = [p for w in found for p in re.sub(r"['’].*$", "", w).split("-")]
    return [p for p in parts if len(p) > 2]


def normalise_numbers(text: str) -> str:
    """``1,500`` as ``1500`` and "per cent" as ``%``, so figures compare as written."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    for word, symbol in _NUMBER_WORDS.items():
        text = re.sub(rf"\s*{word}\b", symbol, text, flags=re.IGNORECASE)
    return text


def plain_number(number: str) -> str:
    """A figure without thousands separators or a trailing full stop."""
    return number.replace(",", "").rstrip(".")


def has_digit(text: str) -> bool:
    """Whether ``text`` states any number."""
    return bool(_DIGIT.search(text))


def asks_quantity(question: str) -> bool:
    """Whether the question asks for a number ("how many", "what percentage")."""
    return bool(_QUANTITY_QUESTION.search(question))


def is_salient(term: str, question: str) -> bool:
    """Whether a keyword of the question is a number or a capitalised name in it."""
    return term.isdigit() or term.capitalize() in question or term.upper() in question


def without_options(question: str) -> str:
    """The question without the options it lists ("... Options: (A) ...; (B) ...")."""
    return _OPTIONS.split(question, maxsplit=1)[0].strip()


def question_names(question: str) -> list[str]:
    """The names, acronyms and years a question states, lowercased (its subject).

    Listed options ("... Options: (A) Dana Okafor; (B) ...", as ``rag eval --mode choice``
    asks) are candidate answers, not the subject, so they are left out.
    """
    question = without_options(question)
    found: list[str] = []
    for start, end in split_sentences(question):
        found += names(question[start:end])
    found += sorted(question_acronyms(question)) + _YEAR.findall(question)
    return [n for n in dict.fromkeys(found) if n not in _CALENDAR]


def question_acronyms(question: str) -> set[str]:
    """The words of three or more capitals a question writes ("PSL", "WWII"), lowercased."""
    return {a.lower() for a in _ACRONYM.findall(without_options(question))}


def question_figures(question: str) -> list[str]:
    """The precise figures a question states (with a decimal point or thousands separator).

    With three or more significant digits, "18.9C", "3.41 million" or "2,465 cases" identify
    what is asked about; round numbers ("more than 200,000 trucks") are often rounded
    differently by the article, and plain integers are as often names ("Boeing 737") as
    quantities.
    """
    numbers = NUMBER.findall(without_options(question))
    return [
        n
        for n in dict.fromkeys(numbers)
        if ("." in n or "," in n) and len(plain_number(n).replace(".", "").strip("0")) >= 3
    ]
