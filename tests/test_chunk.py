"""Chunking with the real tokenizer: exact offsets, the token limit, sentence boundaries."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rag.chunk import split_article
from rag.ingest import load
from rag.text import split_sentences
from rag.types import Article, Chunk

DATA = Path(__file__).parent / "data" / "articles"
SEEDS = Path(__file__).parent.parent / "seeds"

# Long words, hyphens, accents, CJK, emoji, abbreviations: tokens that split into many pieces.
_WORDS = (
    "the bridge opened on Tuesday antidisestablishmentarianism Zelenskiy's 1,240 metres "
    "410-million cable-stayed pneumonoultramicroscopicsilicovolcanoconiosis über café naïve "
    "東京 😀 U.S. Mr. Gov. e.g. Kyiv/Washington (AP) “quoted” x²"
).split()


@pytest.fixture(scope="module")
def tokenizer(embedder):
    return embedder.tokenizer


def n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def random_text(n_words: int, seed: int, sentence_every: int | None = None) -> str:
    rng = random.Random(seed)
    words = []
    for i in range(n_words):
        words.append(rng.choice(_WORDS))
        if sentence_every and i % sentence_every == sentence_every - 1:
            words[-1] += "."
    return " ".join(words)


def article(text: str, doc_id: str = "doc") -> Article:
    return Article(doc_id=doc_id, title="Title", text=text, source="test")


def assert_well_formed(chunks: list[Chunk], art: Article, tokenizer, max_tokens: int) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert art.text[c.start : c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert c.doc_id == art.doc_id
    counts = [n_tokens(tokenizer, c.text) for c in chunks]
    assert max(counts, default=0) <= max_tokens
    covered = [False] * len(art.text)
    for c in chunks:
        covered[c.start : c.end] = [True] * (c.end - c.start)
    dropped = [ch for ch, cov in zip(art.text, covered, strict=True) if not cov]
    assert "".join(dropped).strip() == "", "text outside every chunk"


def test_real_articles_round_trip(tokenizer):
    articles, _ = load([DATA, SEEDS])
    assert len(articles) == 4
    for art in articles:
        chunks = split_article(art, tokenizer, max_tokens=64, overlap_sentences=1)
        assert len(chunks) >= 2 or len(art.text) < 400
        assert_well_formed(chunks, art, tokenizer, 64)


@pytest.mark.parametrize("max_tokens", [16, 50, 200, 256])
def test_long_sentences_are_cut_within_the_limit(tokenizer, max_tokens):
    art = article(random_text(3000, seed=max_tokens, sentence_every=700))
    chunks = split_article(art, tokenizer, max_tokens=max_tokens, overlap_sentences=1)
    assert len(chunks) > 3000 // max_tokens
    assert_well_formed(chunks, art, tokenizer, max_tokens)


def test_one_megabyte_single_line(tokenizer):
    text = random_text(200_000, seed=1)[:1_000_000].strip()
    assert "\n" not in text and len(text) > 990_000
    art = article(text)
    chunks = split_article(art, tokenizer, max_tokens=200, overlap_sentences=1)
    assert_well_formed(chunks, art, tokenizer, 200)


def test_sentences_are_packed_whole_with_overlap(tokenizer):
    sentences = [f"Sentence number {i} talks about the harbour bridge." for i in range(40)]
    art = article(" ".join(sentences))
    chunks = split_article(art, tokenizer, max_tokens=40, overlap_sentences=1)
    assert len(chunks) > 5
    for c in chunks:
        assert c.text.startswith("Sentence number") and c.text.endswith("bridge.")
    for a, b in zip(chunks, chunks[1:], strict=False):
        last_of_a = a.text.rsplit("Sentence", 1)[1]
        assert b.text.startswith("Sentence" + last_of_a)  # one sentence of overlap
    assert_well_formed(chunks, art, tokenizer, 40)


def test_no_overlap(tokenizer):
    art = article(" ".join(f"Sentence {i} is short." for i in range(60)))
    chunks = split_article(art, tokenizer, max_tokens=30, overlap_sentences=0)
    assert all(a.end < b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert_well_formed(chunks, art, tokenizer, 30)


def test_chunk_ids_are_stable_and_unique(tokenizer):
    arts = [article(random_text(500, seed=i, sentence_every=9), f"doc-{i}") for i in range(3)]
    first = [c for a in arts for c in split_article(a, tokenizer, max_tokens=32)]
    second = [c for a in arts for c in split_article(a, tokenizer, max_tokens=32)]
    assert first == second
    assert len({c.chunk_id for c in first}) == len(first)
    assert first[0].chunk_id == "doc-0:00000"


@pytest.mark.parametrize("text", ["", "   \n\n\t  "])
def test_empty_text_has_no_chunks(tokenizer, text):
    assert split_article(article(text), tokenizer) == []


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith met Gov. Newsom on Monday. They spoke for an hour.",
            ["Mr. Smith met Gov. Newsom on Monday.", "They spoke for an hour."],
        ),
        (
            "U.S. officials said the talks went well. The E.U. agreed.",
            ["U.S. officials said the talks went well.", "The E.U. agreed."],
        ),
        (
            "Dr. J. R. Okafor and Mrs. Lee arrived at St. Mary's. Sen. Ruiz did not.",
            ["Dr. J. R. Okafor and Mrs. Lee arrived at St. Mary's.", "Sen. Ruiz did not."],
        ),
        (
            'He asked: "Why now?" Nobody knew! The price was 3.5 million.',
            ['He asked: "Why now?"', "Nobody knew!", "The price was 3.5 million."],
        ),
        ("Headline without a period\nBody starts here.", ["Headline without a period",
                                                         "Body starts here."]),
        ("It ended at 5 p.m. on Friday, e.g. late.", ["It ended at 5 p.m. on Friday, e.g. late."]),
    ],
)  # fmt: skip
def test_sentence_splitting(text, expected):
    assert sentences(text) == expected


def test_sentence_spans_are_trimmed_offsets():
    text = "  First one.   Second one.\n\n  Third one.  "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one.", "Third one."]
    assert split_sentences(text, 2, 12) == [(2, 12)]
