"""Sentences: where an article or an answer breaks into sentences (news style)."""

from __future__ import annotations

import re

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
