"""Split articles into sentence-aligned chunks that fit the embedding model.

Lengths are measured with the embedding model's own tokenizer (all-MiniLM-L6-v2 reads at
most 256 word pieces and silently drops the rest), and every chunk records its character
offsets in the article so a citation can quote the exact text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from rag.text import split_sentences
from rag.types import Article, Chunk

# WordPiece (all-MiniLM-L6-v2) reads a longer word as one unknown token.
_LONGEST_WORD = 100
# Characters per token of ordinary text: what the pieces of such a word count as.
_CHARS_PER_TOKEN = 4


class Tokenizer(Protocol):
    """The part of a Hugging Face fast tokenizer that chunking needs."""

    def __call__(self, text: Any, **kwargs: Any) -> Any: ...  # noqa: D102


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
    pieces = _short_pieces(offsets)
    windows = []
    i = 0
    while i < len(pieces):
        j, used = i, 0
        while j < len(pieces) and (j == i or used + pieces[j][2] <= max_tokens):
            used += pieces[j][2]
            j += 1
        if j < len(pieces):
            cut = next((m for m in range(j, i, -1) if _starts_word(text, base, pieces, m)), j)
            used -= sum(p[2] for p in pieces[cut:j])
            j = cut
        windows.append((base + pieces[i][0], base + pieces[j - 1][1], used))
        i = j
    return windows


def _short_pieces(offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(start, end, tokens) per token; a token longer than any word is cut up.

    WordPiece reads a word longer than ``_LONGEST_WORD`` characters (a run without spaces)
    as one unknown token, however long: counted as one, it would make one chunk of any
    length. Its pieces count as much as ordinary text of their length does.
    """
    pieces = []
    for start, end in offsets:
        if end - start <= _LONGEST_WORD:
            pieces.append((start, end, 1))
            continue
        for cut in range(start, end, _LONGEST_WORD):
            stop = min(cut + _LONGEST_WORD, end)
            pieces.append((cut, stop, -(-(stop - cut) // _CHARS_PER_TOKEN)))
    return pieces


def _starts_word(text: str, base: int, offsets: Sequence[tuple[int, ...]], m: int) -> bool:
    start, prev_end = base + offsets[m][0], base + offsets[m - 1][1]
    return start > prev_end or not (text[start].isalnum() and text[prev_end - 1].isalnum())
