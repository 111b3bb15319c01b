"""Split articles into sentence-aligned chunks that fit the embedding model.

Lengths are measured with the embedding model's own tokenizer (all-MiniLM-L6-v2 reads at
most 256 word pieces and silently drops the rest), and every chunk records its character
offsets in the article so a citation can quote the exact text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from rag.types import Article, Chunk

# Abbreviations after which a period does not end a sentence (news style).
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gov", "sen", "rep", "gen", "col",
    "lt", "sgt", "capt", "cmdr", "adm", "pres", "vs", "etc", "inc", "ltd", "corp", "co",
    "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "ft", "mt", "ave", "blvd", "approx", "est", "dept", "univ", "fig", "al",
}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n+")
_NEXT_STARTS_SENTENCE = re.compile(r"[\"'“‘(\[]?[A-Z0-9]")


class Tokenizer(Protocol):
    """The part of a Hugging Face fast tokenizer that chunking needs."""

    def __call__(self, text: Any, **kwargs: Any) -> Any: ...  # noqa: D102


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


def split(
    articles: Iterable[Article],
    tokenizer: Tokenizer,
    max_tokens: int = 200,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Chunks for every article, in order, each at most ``max_tokens`` word pieces."""
    chunks: list[Chunk] = []
    for article in articles:
        chunks.extend(split_article(article, tokenizer, max_tokens, overlap_sentences))
    return chunks


def split_article(
    article: Article, tokenizer: Tokenizer, max_tokens: int = 200, overlap_sentences: int = 1
) -> list[Chunk]:
    """Pack whole sentences into chunks; a sentence longer than a chunk is cut at tokens."""
    pieces = _pieces(article.text, tokenizer, max_tokens)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(pieces):
        j, used = i, 0
        while j < len(pieces) and (j == i or used + pieces[j][2] <= max_tokens):
            used += pieces[j][2]
            j += 1
        spans.append((pieces[i][0], pieces[j - 1][1]))
        if j >= len(pieces):
            break
        i = max(i + 1, j - overlap_sentences)
    return [
        Chunk(f"{article.doc_id}:{n:05d}", article.doc_id, n, article.text[s:e], s, e)
        for n, (s, e) in enumerate(spans)
    ]


def _pieces(text: str, tokenizer: Tokenizer, max_tokens: int) -> list[tuple[int, int, int]]:
    """(start, end, tokens) for each sentence, long sentences cut into token windows."""
    sentences = split_sentences(text)
    if not sentences:
        return []
    encoded = tokenizer(
        [text[s:e] for s, e in sentences], add_special_tokens=False, return_offsets_mapping=True
    )
    pieces: list[tuple[int, int, int]] = []
    for (s, _e), offsets in zip(sentences, encoded["offset_mapping"], strict=True):
        pieces.extend(_windows(text, s, offsets, max_tokens))
    return pieces


def _windows(
    text: str, base: int, offsets: Sequence[tuple[int, int]], max_tokens: int
) -> list[tuple[int, int, int]]:
    """Cut a sentence's tokens into windows of at most ``max_tokens``.

    A window ends before a token that starts a word when it can: a window that began
    inside a word (on a ``##`` piece) would re-tokenize into more pieces than counted.
    """
    windows = []
    i = 0
    while i < len(offsets):
        j = min(i + max_tokens, len(offsets))
        if j < len(offsets):
            j = next((m for m in range(j, i, -1) if _starts_word(text, base, offsets, m)), j)
        windows.append((base + offsets[i][0], base + offsets[j - 1][1], j - i))
        i = j
    return windows


def _starts_word(text: str, base: int, offsets: Sequence[tuple[int, int]], m: int) -> bool:
    start, prev_end = base + offsets[m][0], base + offsets[m - 1][1]
    return start > prev_end or not (text[start].isalnum() and text[prev_end - 1].isalnum())
