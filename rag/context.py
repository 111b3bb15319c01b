"""Hits -> the passages the model reads, within a token budget.

Time to first token on CPU is the prompt length, so the context is kept tight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rag.types import Hit, Passage

TokenCounter = Callable[[str], int]


def approx_tokens(text: str) -> int:
    """A conservative token estimate for models whose tokenizer we cannot call."""
    return len(text) // 3 + 1


def build(hits: Sequence[Hit], budget: int, count: TokenCounter = approx_tokens) -> list[Passage]:
    """Number the hits' texts as passages, stopping before ``budget`` tokens are exceeded."""
    passages: list[Passage] = []
    used = 0
    for hit in hits:
        cost = count(hit.text) + count(hit.title) + 12
        if passages and used + cost > budget:
            break
        passages.append(Passage(len(passages) + 1, hit, hit.text, hit.start, hit.end))
        used += cost
    return passages
