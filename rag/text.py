"""The one home of language rules: every other module asks this one.

Sentences, keywords, names, numbers, place forms, time expressions, markup and
instructions injected into articles are all English news-style heuristics. Each rule is
written once here, so retrieval, context, verification, the gate and the UI cannot drift
apart. The thresholds that tune how strictly a rule is applied live in ``rag.config``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# ---- text that is not text --------------------------------------------------------------------

# A lone surrogate (``"\\ud800"`` in JSON, an undecodable byte of a command-line argument) is
# not a character: it cannot be encoded, stored, tokenized or printed.
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate."""
    return _SURROGATE.search(text) is not None


def without_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


# ---- sentences ------------------------------------------------------------------------------

# Abbreviations after which a period does not end a sentence (news style).
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gov", "sen", "rep", "gen", "col",
    "lt", "sgt", "capt", "cmdr", "adm", "pres", "vs", "etc", "inc", "ltd", "corp", "co",
    "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "ft", "mt", "ave", "blvd", "approx", "est", "dept", "univ", "fig", "al",
}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n+")
_NEXT_STARTS_SENTENCE = re.compile(r"[\"'“‘(\[]?[A-Z0-9]")
# The end of a sentence and the space after it, for cutting excerpts at sentence boundaries.
SENTENCE_GAP = re.compile(r"[.!?][\"'”’)\]]*\s+|\n\s*")
CLOSERS = "\"'”’)]"
# A sentence of an answer, with the ``[n]`` markers that follow its full stop.
_ANSWER_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?:\s*\[\d+\])*(?=\s|$)|$)", re.DOTALL)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text[start:end]``, whitespace trimmed.

    A fast rule-based splitter tuned for news: it breaks at ``.!?`` followed by a capital,
    digit or opening quote (unless the word is a known abbreviation or a single initial)
    and at every line break.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _BOUNDARY.finditer(text, start, end):
        if "\n" not in match.group() and not _ends_sentence(text, match, end):
            continue
        _append_trimmed(spans, text, begin, match.end())
        begin = match.end()
    _append_trimmed(spans, text, begin, end)
    return spans


def _ends_sentence(text: str, match: re.Match[str], end: int) -> bool:
    if not _NEXT_STARTS_SENTENCE.match(text, match.end(), end):
        return False
    word = re.search(r"(\w+)$", text[max(0, match.start() - 12) : match.start()])
    if word is None or text[match.start()] != ".":
        return True
    token = word.group(1)
    is_initial = len(token) == 1 and token.isupper()  # "J. Smith", "U.S. officials"
    return token.lower() not in _ABBREVIATIONS and not is_initial


def _append_trimmed(spans: list[tuple[int, int]], text: str, begin: int, stop: int) -> None:
    while begin < stop and text[begin].isspace():
        begin += 1
    while stop > begin and text[stop - 1].isspace():
        stop -= 1
    if stop > begin:
        spans.append((begin, stop))


def answer_sentences(text: str) -> list[str]:
    """The sentences of an answer as shown, each with the ``[n]`` markers after it."""
    return [m.group(0) for m in _ANSWER_SENTENCE.finditer(text)]


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


# ---- names and numbers ----------------------------------------------------------------------

NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_DIGIT = re.compile(r"\d")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]+")
_NUMBER_WORDS = {"percent": "%", "per cent": "%"}
_OPTIONS = re.compile(r"\bOptions:")
_ACRONYM = re.compile(r"\b[A-Z]{3,}\b")
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
    found += [a.lower() for a in _ACRONYM.findall(question)] + _YEAR.findall(question)
    return [n for n in dict.fromkeys(found) if n not in _CALENDAR]


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


# ---- markup ---------------------------------------------------------------------------------

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*[^\]\d][^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]{0,500}>")
_URL = re.compile(r"\b(?:https?|javascript|data|ftp):\S+", re.IGNORECASE)


def strip_markup(text: str) -> str:
    """Plain text: no images, no link targets, no HTML tags, no bare URLs.

    An answer is prose with ``[n]`` markers. Anything else the model writes (often because an
    article told it to) could load a remote image or carry data out through a link.
    """
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    return _URL.sub("", text)


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


# ---- instructions injected into articles ----------------------------------------------------

# Sentences that talk to the assistant rather than report news: an article may carry them
# to steer the model (prompt injection). They never reach the prompt, so the model cannot
# obey them and verification cannot find them in a passage if the model repeats them.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,30}\b(previous|prior|above|earlier|all|your"
    r"|any|these|the)\b.{0,20}\b(instructions?|prompts?)\b"
    r"|\b(system prompt|your (instructions|prompt|rules))\b"
    r"|\b(to|dear|attention|hey)\s+(the\s+)?(ai|assistant|chatbot|language model|llm)\b"
    r"|\b(assistant|ai|chatbot|model)\s*[,:]\s*(please\s+)?(always|never|ignore|say|add|reply"
    r"|respond|print|reveal|include|end|show|answer|output)\b"
    r"|\bwhen (you are )?asked\b.{0,80}\b(say|answer|reply|respond)\b"
    r"|\b(every|each|all|your) (answers?|responses?|replies)\b.{0,40}\b(with|must|should)\b"
    r"|\b(the|your|every|each) (answer|response|reply)\b.{0,30}\b(add|include|append|show|end)\b"
    r"|\bcode ?word\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """Whether an article sentence addresses the assistant (an injection, not news)."""
    return bool(_INSTRUCTION.search(sentence))


# ---- the model saying it has no answer ------------------------------------------------------

_REFUSAL = re.compile(
    r"\b(articles?|passages?|context|information)\b[^.]{0,40}\b(don'?t|do not|does not|doesn'?t"
    r"|did not|didn'?t)\b[^.]{0,20}\b(say|mention|contain|provide|answer|include|state)"
    r"|\bno (information|mention)\b|\bnot (mentioned|specified|provided|stated)\b"
    r"|\bcannot (be )?(answer|determine)",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """Whether the model's reply says the passages do not answer."""
    return not text.strip() or bool(_REFUSAL.search(text))
