"""Hits -> the passages the model reads: the sentences that matter, within a token budget.

On this CPU the model reads ~100 prompt tokens/s, so time to first token *is* the prompt
length. Instead of whole chunks, each passage is an anchor sentence that best matches the
question (semantic similarity + keyword, name and number overlap), with one sentence of
context either side, cut from the article at exact character offsets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag import text
from rag.text import query_terms
from rag.types import Encoder, Evidence, Hit, Passage

TokenCounter = Callable[[str], int]

_SPACE = re.compile(r"\s+")
_FAKE_MARKER = re.compile(r"\[(\d+)\]")


def approx_tokens(text: str) -> int:
    """A conservative token estimate for models whose tokenizer we cannot call."""
    return len(text) // 3 + 1


@dataclass(frozen=True)
class _Sentence:
    hit: Hit
    index: int  # position among the sentences of its hit's window
    start: int
    end: int
    score: float


def build(
    evidence: Evidence,
    encode: Encoder,
    *,
    budget: int,
    anchors: int = 4,
    neighbours: int = 1,
    shortlist: int = 16,
    count: TokenCounter = approx_tokens,
    exclude: Sequence[Passage] = (),
) -> list[Passage]:
    """Up to ``anchors`` passages of ``evidence.hits`` within ``budget`` tokens as read.

    Each is an exact slice of its article. The best are chosen first, then grouped by
    article and numbered (``numbered``). ``encode`` embeds the ``shortlist`` candidate
    sentences (pass ``evidence.encoder(...)`` so verification can reuse their vectors).
    No sentence of the ``exclude`` passages is used: they give the next-best passages.
    """
    texts = evidence.texts
    spans: dict[str, list[tuple[int, int]]] = {}
    sentences: list[_Sentence] = []
    seen: set[tuple[str, int]] = set()

    def shown(doc_id: str, start: int, end: int) -> bool:
        return any(p.hit.doc_id == doc_id and p.start < end and start < p.end for p in exclude)

    for hit in evidence.hits:
        article = texts[hit.doc_id]
        if hit.doc_id not in spans:
            spans[hit.doc_id] = text.split_sentences(article)
        for i, (s, e) in enumerate(spans[hit.doc_id]):
            if s >= hit.start and e <= hit.end and (hit.doc_id, i) not in seen:
                seen.add((hit.doc_id, i))
                if text.is_instruction(article[s:e]):  # an injection: never shown to the model
                    continue
                if not shown(hit.doc_id, s, e):
                    sentences.append(_Sentence(hit, i, s, e, 0.0))
    if not sentences:
        return []
    scored = _score(evidence, sentences, encode, shortlist)

    def barred(doc_id: str, i: int) -> bool:
        start, end = spans[doc_id][i]
        return text.is_instruction(texts[doc_id][start:end]) or shown(doc_id, start, end)

    def passages(runs: list[tuple[Hit, int, int]]) -> list[Passage]:
        """Runs of sentences (hit, first, last index) as article slices, numbered."""
        out = []
        for hit, first, last in runs:
            start, end = spans[hit.doc_id][first][0], spans[hit.doc_id][last][1]
            out.append(Passage(0, hit, texts[hit.doc_id][start:end], start, end))
        return numbered(out)

    # The best sentences, each with its neighbours and merged into a run of the same article
    # it touches. One that would overflow the budget is skipped for the next best, so a long
    # sentence does not leave the budget half used.
    chosen: list[tuple[Hit, int, int]] = []
    for sent in sorted(scored, key=lambda x: -x.score):
        if len(chosen) == anchors:
            break
        first = last = sent.index
        doc = sent.hit.doc_id
        # Neighbours stop at an instruction sentence: a passage is one slice of the article.
        while first > max(0, sent.index - neighbours) and not barred(doc, first - 1):
            first -= 1
        end = min(len(spans[doc]) - 1, sent.index + neighbours)
        while last < end and not barred(doc, last + 1):
            last += 1
        touching = [
            j
            for j, (hit, a, b) in enumerate(chosen)
            if hit.doc_id == sent.hit.doc_id and first <= b + 1 and last >= a - 1
        ]
        merged = (
            chosen[touching[0]][0] if touching else sent.hit,
            min([first, *(chosen[j][1] for j in touching)]),
            max([last, *(chosen[j][2] for j in touching)]),
        )
        trial = [run for j, run in enumerate(chosen) if j not in touching]
        # The merged run takes the place of the first it joins (no run before that one goes).
        trial.insert(touching[0] if touching else len(trial), merged)
        if count(format_passages(passages(trial))) <= budget:
            chosen = trial
        elif not chosen:
            # The best passage is kept even when it is too long (one sentence of an article
            # can be thousands of tokens): cut to what fits, which fills the budget.
            (whole,) = passages(trial)
            frame = count(format_passages([Passage(1, whole.hit, "", whole.start, whole.start)]))
            cut = fit_tokens(whole.text, budget - frame, count)
            if not cut:
                return []
            return [Passage(1, whole.hit, cut, whole.start, whole.start + len(cut))]
    return passages(chosen)


def numbered(passages: Sequence[Passage]) -> list[Passage]:
    """Passages grouped by article (best article first), in article order, numbered from 1."""
    order = {doc_id: i for i, doc_id in enumerate(dict.fromkeys(p.hit.doc_id for p in passages))}
    ordered = sorted(passages, key=lambda p: (order[p.hit.doc_id], p.start))
    return [Passage(n, p.hit, p.text, p.start, p.end) for n, p in enumerate(ordered, 1)]


def format_passages(passages: Sequence[Passage]) -> str:
    """The passages as the model reads them: one fenced block per article, one line each.

    ::

        <article title="..." date="2024-05-02">
        [1] First passage of this article.
        [2] A later passage of the same article.
        </article>

    The title and date are written once per article (they cost ~30 tokens a block, and
    every token is time to first token). Article text is data: anything in it that could
    pass for a fence or a passage number is defused.
    """
    blocks: dict[str, list[Passage]] = {}
    for p in passages:
        blocks.setdefault(p.hit.doc_id, []).append(p)
    rendered = []
    for group in blocks.values():
        hit = group[0].hit
        when = hit.published.isoformat() if hit.published else "undated"
        lines = "\n".join(f"[{p.n}] {_defused(p.text)}" for p in group)
        # A headline that instructs the model is withheld like such a sentence.
        shown = "(headline withheld)" if text.is_instruction(hit.title) else hit.title
        title = _defused(shown).replace('"', "'")[:200]
        rendered.append(f'<article title="{title}" date="{when}">\n{lines}\n</article>')
    return "\n\n".join(rendered)


def _defused(text: str) -> str:
    """One line without tags or ``[n]`` markers."""
    text = _SPACE.sub(" ", text).strip().replace("<", "‹").replace(">", "›")
    return _FAKE_MARKER.sub(r"(\1)", text)


def fit_tokens(text: str, budget: int, count: TokenCounter, from_end: bool = False) -> str:
    """The longest start of ``text`` (its end, ``from_end``) within ``budget`` tokens.

    Cut between words when there is a space in the second half of what fits.
    """
    if budget <= 0:
        return ""
    if count(text) <= budget:
        return text

    def part(n: int) -> str:
        return text[len(text) - n :] if from_end else text[:n]

    fits, too_long = 0, len(text)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if count(part(middle)) <= budget:
            fits = middle
        else:
            too_long = middle
    kept = part(fits)
    if from_end:
        if kept[:1].isspace() or text[len(text) - fits - 1].isspace():  # between words
            return kept.lstrip()
        space = _SPACE.search(kept)
        return kept[space.end() :] if space and space.start() < len(kept) // 2 else kept
    if kept[-1:].isspace() or text[fits].isspace():
        return kept.rstrip()
    spaces = [m.start() for m in _SPACE.finditer(kept)]
    return kept[: spaces[-1]] if spaces and spaces[-1] > len(kept) // 2 else kept


def _score(
    evidence: Evidence, sentences: list[_Sentence], encode: Encoder, shortlist: int
) -> list[_Sentence]:
    """Semantic similarity plus the share of the question's keywords, names and numbers.

    Embedding the candidates is most of the time spent before the model starts, so only
    the ``shortlist`` sentences best by keywords and retrieval rank are embedded and scored
    (dev: the answer is in the context as often as when all ~45 are). The question's
    vector is the one retrieval computed.
    """
    question = evidence.question
    bodies = [evidence.texts[s.hit.doc_id][s.start : s.end] for s in sentences]
    terms = query_terms(question)
    weights = {t: 2.0 if text.is_salient(t, question) else 1.0 for t in terms}
    total = sum(weights.values()) or 1.0
    wants_number = text.asks_quantity(question)
    top_hit = max(s.hit.score for s in sentences) or 1.0
    lexical, prior = [], []
    for sent, body in zip(sentences, bodies, strict=True):
        words = set(query_terms(body))
        lexical.append(sum(w for t, w in weights.items() if text.same_stem(t, words)) / total)
        prior.append(sent.hit.score / top_hit)
    ranked = sorted(range(len(sentences)), key=lambda i: -(lexical[i] + 0.3 * prior[i]))
    chosen = sorted(ranked[:shortlist])
    semantic = encode([bodies[i] for i in chosen]) @ evidence.vector
    scored = []
    for i, sim in zip(chosen, semantic, strict=True):
        sent, body = sentences[i], bodies[i]
        bonus = 0.1 if wants_number and text.has_digit(body) else 0.0
        score = float(sim) + 0.5 * lexical[i] + bonus + 0.05 * prior[i]
        scored.append(_Sentence(sent.hit, sent.index, sent.start, sent.end, score))
    return scored
