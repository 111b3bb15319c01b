"""Check every sentence of an answer against the passage it cites, after the model speaks.

A sentence is *supported* by a passage when the numbers and names it states appear in the
passage (or in the question it restates), and it says what the passage says: its content
words are found there, or it is semantically close to one of the passage's sentences
(embedding cosine). Unsupported sentences are removed from the answer and reported; an
uncited sentence is attributed to the passage that supports it, if any. Each citation's
quote is narrowed to the exact supporting sentence of the article.

A supported sentence must also answer: it must state something of the kind the question
asks for (a name for "who", a number for "how many", ``rag.text.asked``) that the question
does not state and the passage it cites does. A sentence without one is a *non-answer*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag import text
from rag.answer import citation_for
from rag.config import VerifySettings
from rag.text import query_terms
from rag.types import Citation, Encoder, Passage

_MARKER = re.compile(r"\s*\[(\d+)\]")


@dataclass(frozen=True)
class Verdict:
    """How one answer sentence fares against the passages."""

    sentence: str  # without markers
    cited: tuple[int, ...]  # passage numbers that support it (empty: unsupported)
    support: float  # best support score over the passages it was checked against
    quotes: dict[int, tuple[int, int]]  # n -> supporting span (article offsets)


@dataclass(frozen=True)
class Verified:
    """The checked answer."""

    text: str
    citations: list[Citation]
    unsupported: list[str]
    restated: list[str]
    non_answers: list[str] = field(default_factory=list)  # supported, but not what was asked

    @property
    def grounded(self) -> bool:
        """True when every sentence of the model's answer was supported."""
        return not self.unsupported


def verify(
    question: str,
    reply: str,
    passages: Sequence[Passage],
    encode: Encoder,
    settings: VerifySettings = VerifySettings(),  # noqa: B008 (frozen)
) -> Verified:
    """Keep the sentences of ``reply`` a passage supports, each with its markers; drop the rest.

    ``encode`` embeds the claims and the passage sentences (``Evidence.encoder`` reuses the
    vectors of the sentences that context embedded).
    """
    question = text.without_options(question)  # a picked option is a claim to check
    passages = [_without_instructions(p) for p in passages]
    by_n = {p.n: p for p in passages}
    pieces = _sentences_with_markers(text.strip_markup(reply))
    if not pieces or not passages:
        return Verified("", [], [s for s, _ in pieces], [])
    kind = text.asked_kind(question) if settings.require_answer else None
    units = {p.n: _passage_sentences(p) for p in passages}
    claims = [claim for claim, _ in pieces]
    flat = [(n, s, e, body) for n, sents in units.items() for s, e, body in sents]
    vectors = encode(claims + [body for *_, body in flat])
    claim_vecs, sent_vecs = vectors[: len(claims)], vectors[len(claims) :]
    sims = claim_vecs @ sent_vecs.T  # claims x passage sentences

    kept: list[str] = []
    unsupported: list[str] = []
    restated: list[str] = []
    non_answers: list[str] = []
    best_support: dict[int, tuple[float, tuple[int, int]]] = {}
    for i, (claim, markers) in enumerate(pieces):
        if len(kept) == settings.max_sentences or claim in claims[:i]:
            continue  # past a short answer the model is reciting passages, and drifts
        if settings.drop_restatements and is_restatement(claim, question, settings):
            restated.append(claim)
            continue
        verdict = _judge(question, claim, markers, by_n, flat, sims[i], settings)
        if not verdict.cited:
            unsupported.append(claim)
            continue
        cited = [by_n[n] for n in verdict.cited]
        if kind and not _answers(claim, question, kind, _evidence_text(cited, settings)):
            non_answers.append(claim)
            continue
        kept.append(_with_markers(claim, verdict.cited))
        for n in verdict.cited:
            span = verdict.quotes[n]
            if n not in best_support or verdict.support > best_support[n][0]:
                best_support[n] = (verdict.support, span)

    citations = []
    for n in sorted(best_support, key=lambda n: _first_mention(kept, n)):
        support, (start, end) = best_support[n]
        passage = by_n[n]
        citations.append(
            citation_for(
                Passage(n, passage.hit, _article_slice(passage, start, end), start, end),
                supported=True,
                support=round(support, 3),
            )
        )
    return Verified(" ".join(kept), citations, unsupported, restated, non_answers)


def has_candidate(question: str, passages: Sequence[Passage], kind: text.Kind) -> bool:
    """Whether a passage states something of the asked kind that the question does not."""
    question = text.without_options(question)
    for passage in map(_without_instructions, passages):
        for s, e in text.split_sentences(passage.text):
            if text.answer_terms(passage.text[s:e], question, kind):
                return True
    return False


def _answers(claim: str, question: str, kind: text.Kind, evidence: str) -> bool:
    """Whether ``claim`` gives something of the kind asked that ``evidence`` states too."""
    evidence = text.normalise_numbers(evidence).lower()
    found = set(query_terms(evidence))
    return any(
        t in evidence if text.has_digit(t) else text.occurs(t, found)
        for t in text.answer_terms(claim, question, kind)
    )


def _evidence_text(passages: Sequence[Passage], settings: VerifySettings) -> str:
    """The passages' text, each under its headline when a headline counts as evidence."""
    return "\n".join(f"{_headline(p, settings)}\n{p.text}" for p in passages)


def _headline(passage: Passage, settings: VerifySettings) -> str:
    title = passage.hit.title if settings.headline_evidence else ""
    return "" if text.is_instruction(title) else title


def _judge(
    question: str,
    claim: str,
    markers: Sequence[int],
    by_n: dict[int, Passage],
    flat: Sequence[tuple[int, int, int, str]],
    sims: np.ndarray,
    settings: VerifySettings,
) -> Verdict:
    """Which passages support ``claim``: the cited ones, unless another is clearly better.

    Every passage is checked, so a sentence the model cited wrongly (or not at all) is
    attributed to the passage that does support it.
    """
    new_facts = bool(_new_facts(claim, question))
    supporting: dict[int, tuple[float, tuple[int, int]]] = {}
    best = 0.0
    for n, passage in by_n.items():
        rows = [j for j, row in enumerate(flat) if row[0] == n]
        if not rows:
            continue
        j = max(rows, key=lambda r: sims[r])
        semantic = float(sims[j])
        # The model reads each passage under its article's headline, and may take a name or
        # number from it ("Five things we learned: the 212-minute final"). Only the passage
        # itself supports the claim's wording: a headline word alone ("measles") is no
        # evidence that the passage says what the claim does.
        lexical = _coverage(claim, passage.text, question)
        best = max(best, semantic, lexical)
        if _facts_present(claim, _evidence_text([passage], settings), question) and (
            semantic >= settings.semantic
            or lexical >= settings.lexical
            or (new_facts and semantic >= settings.fact_semantic_floor)
        ):
            supporting[n] = (semantic + 0.5 * lexical, (flat[j][1], flat[j][2]))
    if not supporting:
        return Verdict(claim, (), best, {})
    top = max(score for score, _ in supporting.values())
    close = top - settings.reattribute
    cited = [n for n in markers if n in supporting and supporting[n][0] >= close]
    if not cited:
        cited = [max(supporting, key=lambda n: supporting[n][0])]
    return Verdict(claim, tuple(cited), best, {n: supporting[n][1] for n in cited})


def _with_markers(claim: str, cited: Sequence[int]) -> str:
    """``claim`` with ``[n]`` markers before its final punctuation: "… strikes [1]."."""
    body = claim.rstrip()
    end = len(body.rstrip(".!?…"))
    return f"{body[:end]} {''.join(f'[{n}]' for n in cited)}{body[end:]}"


def _sentences_with_markers(reply: str) -> list[tuple[str, list[int]]]:
    """Answer sentences without their ``[n]`` markers, and the numbers they cited."""
    out = []
    for s, e in text.split_sentences(reply):
        sentence = reply[s:e]
        markers = [int(m) for m in _MARKER.findall(sentence)]
        claim = _MARKER.sub("", sentence).strip()
        if re.search(r"\w", claim):
            out.append((claim, list(dict.fromkeys(markers))))
        elif out and markers:  # a marker alone after the full stop belongs to the previous
            out[-1][1].extend(m for m in markers if m not in out[-1][1])
    return out


def _without_instructions(passage: Passage) -> Passage:
    """The passage with its instruction sentences blanked out (offsets unchanged).

    A sentence that instructs the reader ("Anyone summarising this should add that…") is
    no evidence, whatever its words: neither its wording, nor its names and numbers, nor its
    meaning supports a claim, and it is never quoted.
    """
    body = passage.text
    for s, e in text.split_sentences(body):
        if text.is_instruction(body[s:e]):
            body = body[:s] + " " * (e - s) + body[e:]
    if body == passage.text:
        return passage
    return Passage(passage.n, passage.hit, body, passage.start, passage.end)


def _passage_sentences(passage: Passage) -> list[tuple[int, int, str]]:
    """(article start, article end, text) of each sentence of the passage."""
    return [
        (passage.start + s, passage.start + e, passage.text[s:e])
        for s, e in text.split_sentences(passage.text)
    ]


def _article_slice(passage: Passage, start: int, end: int) -> str:
    return passage.text[start - passage.start : end - passage.start]


def _coverage(claim: str, passage: str, question: str) -> float:
    """Share of the claim's content words (not already in the question) found in the passage."""
    asked = set(query_terms(question))
    words = [w for w in query_terms(claim) if w not in asked] or query_terms(claim)
    if not words:
        return 0.0
    found = set(query_terms(passage))
    return sum(1 for w in words if text.occurs(w, found)) / len(words)


def _facts_present(claim: str, passage: str, question: str) -> bool:
    """Every number and name the claim states occurs in the passage or the question."""
    haystack = text.normalise_numbers(f"{passage}\n{question}").lower()
    for number in text.NUMBER.findall(text.normalise_numbers(claim)):
        if number not in haystack:
            return False
    words = text.words(haystack)
    return all(text.occurs(name, words) for name in text.names(claim))


def is_restatement(
    claim: str,
    question: str,
    settings: VerifySettings = VerifySettings(),  # noqa: B008 (frozen)
) -> bool:
    """True when a sentence of some length only repeats the question (it answers nothing).

    Short sentences are exempt: an answer that picks one of the options the question lists
    ("Elena Ruiz [1].") consists of the question's words and still answers it.
    """
    words = query_terms(claim)
    if len(words) < 6:
        return not words
    asked = set(query_terms(question))
    share = sum(1 for w in words if text.occurs(w, asked)) / len(words)
    return share >= settings.restatement


def _new_facts(claim: str, question: str) -> list[str]:
    """Numbers and names the claim states that the question did not."""
    asked = text.normalise_numbers(question).lower()
    numbers = [n for n in text.NUMBER.findall(text.normalise_numbers(claim)) if n not in asked]
    asked_words = text.words(asked)
    return numbers + [n for n in text.names(claim) if n not in asked_words]


def _first_mention(sentences: Sequence[str], n: int) -> int:
    joined = " ".join(sentences)
    index = joined.find(f"[{n}]")
    return index if index >= 0 else len(joined)
