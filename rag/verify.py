"""Check every sentence of an answer against the passage it cites, after the model speaks.

A sentence is *supported* by a passage when the numbers and names it states appear in the
passage (or in the question it restates), and it says what the passage says: its content
words are found there, or it is semantically close to one of the passage's sentences
(embedding cosine). Unsupported sentences are removed from the answer and reported; an
uncited sentence is attributed to the passage that supports it, if any. Each citation's
quote is narrowed to the exact supporting sentence of the article.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from rag.answer import citation_for
from rag.chunk import split_sentences
from rag.instructions import is_instruction
from rag.store import query_terms
from rag.types import Citation, Hit, Passage

Encoder = Callable[[Sequence[str]], np.ndarray]

SEMANTIC_THRESHOLD = 0.55  # a sentence this close in meaning to a passage sentence is supported
LEXICAL_THRESHOLD = 0.5  # ... or when this share of its new content words is in the passage
FACT_SEMANTIC_FLOOR = 0.3  # a sentence whose new names/numbers are all in the passage needs less
REATTRIBUTE = 0.1  # a cited passage this much less supportive than another is replaced by it
MAX_SENTENCES = 3  # the prompt asks for one or two; later ones recite passages off the point
RESTATEMENT = 1.0  # a sentence made only of the question's own words adds nothing
_MARKER = re.compile(r"\s*\[(\d+)\]")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*[^\]\d][^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]{0,500}>")
_URL = re.compile(r"\b(?:https?|javascript|data|ftp):\S+", re.IGNORECASE)
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
# Places and their adjectives that share no 5-letter prefix ("French mustard" is
# supported by "France's most famous condiment"); "Germany"/"German" and the like need none.
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
# How recent the newest article must be for a time-relative question. On dev, the gold
# article of a "this week" question is at most 4 days older than the question.
THIS_WEEK_DAYS = 7  # "this week", "yesterday", "on Monday"
LAST_WEEK_DAYS = 14  # "last week", "past weekend"
TermShares = Callable[[Sequence[str]], dict[str, float]]  # term -> share of chunks holding it
RARE_NAME_SHARE = 0.02  # a name in at most this share of the chunks is specific
RECENT_SENSE_DAYS = 45  # "recently", "currently", "last month"
_THIS_WEEK = re.compile(
    r"\bthis (week|weekend)\b|\b(today|yesterday|tonight|this morning)\b"
    r"|\b(on|this) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)
_LAST_WEEK = re.compile(
    r"\b(last|past) (week|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)
_LATELY = re.compile(
    r"\b(recently|recent|latest|currently|right now|so far|this month|last month|past month)\b",
    re.IGNORECASE,
)


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

    @property
    def grounded(self) -> bool:
        """True when every sentence of the model's answer was supported."""
        return not self.unsupported


def verify(question: str, text: str, passages: Sequence[Passage], encode: Encoder) -> Verified:
    """Keep the sentences a passage supports, each with its markers; drop the rest."""
    question = without_options(question)  # a picked option is a claim to check, not a given
    passages = [_without_instructions(p) for p in passages]
    by_n = {p.n: p for p in passages}
    pieces = _sentences_with_markers(strip_markup(text))
    if not pieces or not passages:
        return Verified("", [], [s for s, _ in pieces], [])
    units = {p.n: _passage_sentences(p) for p in passages}
    claims = [claim for claim, _ in pieces]
    flat = [(n, s, e, body) for n, sents in units.items() for s, e, body in sents]
    vectors = encode(claims + [body for *_, body in flat])
    claim_vecs, sent_vecs = vectors[: len(claims)], vectors[len(claims) :]
    sims = claim_vecs @ sent_vecs.T  # claims x passage sentences

    kept: list[str] = []
    unsupported: list[str] = []
    restated: list[str] = []
    best_support: dict[int, tuple[float, tuple[int, int]]] = {}
    for i, (claim, markers) in enumerate(pieces):
        if len(kept) == MAX_SENTENCES or claim in claims[:i]:
            continue  # past a short answer the model is reciting passages, and drifts
        if is_restatement(claim, question):
            restated.append(claim)
            continue
        verdict = _judge(question, claim, markers, by_n, flat, sims[i])
        if not verdict.cited:
            unsupported.append(claim)
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
    return Verified(" ".join(kept), citations, unsupported, restated)


def _judge(
    question: str,
    claim: str,
    markers: Sequence[int],
    by_n: dict[int, Passage],
    flat: Sequence[tuple[int, int, int, str]],
    sims: np.ndarray,
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
        # number from it ("What we learned: Trump's 187 minutes"). Only the passage itself
        # supports the claim's wording: a headline word alone ("monkeypox") is no evidence
        # that the passage says what the claim does.
        lexical = _coverage(claim, passage.text, question)
        best = max(best, semantic, lexical)
        title = "" if is_instruction(passage.hit.title) else passage.hit.title
        if _facts_present(claim, f"{title}\n{passage.text}", question) and (
            semantic >= SEMANTIC_THRESHOLD
            or lexical >= LEXICAL_THRESHOLD
            or (new_facts and semantic >= FACT_SEMANTIC_FLOOR)
        ):
            supporting[n] = (semantic + 0.5 * lexical, (flat[j][1], flat[j][2]))
    if not supporting:
        return Verdict(claim, (), best, {})
    top = max(score for score, _ in supporting.values())
    cited = [n for n in markers if n in supporting and supporting[n][0] >= top - REATTRIBUTE]
    if not cited:
        cited = [max(supporting, key=lambda n: supporting[n][0])]
    return Verdict(claim, tuple(cited), best, {n: supporting[n][1] for n in cited})


def strip_markup(text: str) -> str:
    """Plain text: no images, no link targets, no HTML tags, no bare URLs.

    An answer is prose with ``[n]`` markers. Anything else the model writes (often because an
    article told it to) could load a remote image or carry data out through a link.
    """
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    return _URL.sub("", text)


def _with_markers(claim: str, cited: Sequence[int]) -> str:
    """``claim`` with ``[n]`` markers before its final punctuation: "… strikes [1]."."""
    body = claim.rstrip()
    end = len(body.rstrip(".!?…"))
    return f"{body[:end]} {''.join(f'[{n}]' for n in cited)}{body[end:]}"


def _sentences_with_markers(text: str) -> list[tuple[str, list[int]]]:
    """Answer sentences without their ``[n]`` markers, and the numbers they cited."""
    out = []
    for s, e in split_sentences(text):
        sentence = text[s:e]
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
    text = passage.text
    for s, e in split_sentences(text):
        if is_instruction(text[s:e]):
            text = text[:s] + " " * (e - s) + text[e:]
    if text == passage.text:
        return passage
    return Passage(passage.n, passage.hit, text, passage.start, passage.end)


def _passage_sentences(passage: Passage) -> list[tuple[int, int, str]]:
    """(article start, article end, text) of each sentence of the passage."""
    return [
        (passage.start + s, passage.start + e, passage.text[s:e])
        for s, e in split_sentences(passage.text)
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
    return sum(1 for w in words if _occurs(w, found)) / len(words)


def _occurs(word: str, found: set[str]) -> bool:
    """``word`` or a form of it is in ``found`` ("hospitals", or "France" for "French")."""
    if word in found or (len(word) >= 5 and any(f.startswith(word[:5]) for f in found)):
        return True
    return _OTHER_FORM.get(word) in found


def _facts_present(claim: str, passage: str, question: str) -> bool:
    """Every number and name the claim states occurs in the passage or the question."""
    haystack = _normalise_numbers(f"{passage}\n{question}").lower()
    for number in _NUMBER.findall(_normalise_numbers(claim)):
        if number not in haystack:
            return False
    words = set(re.findall(r"\w+", haystack))
    for name in _names(claim):
        if not _occurs(name, words):
            return False
    return True


def is_restatement(claim: str, question: str) -> bool:
    """True when a sentence of some length only repeats the question (it answers nothing).

    Short sentences are exempt: an answer that picks one of the options the question lists
    ("Elena Ruiz [1].") consists of the question's words and still answers it.
    """
    words = query_terms(claim)
    if len(words) < 6:
        return not words
    asked = set(query_terms(question))
    return sum(1 for w in words if _occurs(w, asked)) / len(words) >= RESTATEMENT


def _new_facts(claim: str, question: str) -> list[str]:
    """Numbers and names the claim states that the question did not."""
    asked = _normalise_numbers(question).lower()
    numbers = [n for n in _NUMBER.findall(_normalise_numbers(claim)) if n not in asked]
    asked_words = set(re.findall(r"\w+", asked))
    return numbers + [n for n in _names(claim) if n not in asked_words]


def _names(claim: str) -> list[str]:
    """Capitalised words of the claim (lowercased), but its first word."""
    found = [m.group().lower() for m in _CAPITALISED.finditer(claim) if m.start() > 0]
    parts = [p for w in found for p in re.sub(r"['’].*$", "", w).split("-")]
    return [p for p in parts if len(p) > 2]


def _normalise_numbers(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    for word, symbol in _NUMBER_WORDS.items():
        text = re.sub(rf"\s*{word}\b", symbol, text, flags=re.IGNORECASE)
    return text


def _first_mention(sentences: Sequence[str], n: int) -> int:
    joined = " ".join(sentences)
    index = joined.find(f"[{n}]")
    return index if index >= 0 else len(joined)


# ---- does the evidence fit the question at all? -----------------------------------------
# A small model answers an unanswerable question from whatever passage is closest, and such
# an answer can be "supported" sentence by sentence (the FDA question answered from an
# article about French mustard). Two checks on the articles themselves catch that.


def question_names(question: str) -> list[str]:
    """The names, acronyms and years a question states, lowercased (its subject).

    Listed options ("... Options: (A) Dana Okafor; (B) ...", as ``rag eval --mode choice``
    asks) are candidate answers, not the subject, so they are left out.
    """
    question = without_options(question)
    found: list[str] = []
    for start, end in split_sentences(question):
        found += _names(question[start:end])
    found += [a.lower() for a in _ACRONYM.findall(question)] + _YEAR.findall(question)
    return [n for n in dict.fromkeys(found) if n not in _CALENDAR]


def without_options(question: str) -> str:
    """The question without the options it lists ("... Options: (A) ...; (B) ...")."""
    return _OPTIONS.split(question, maxsplit=1)[0].strip()


def unmentioned(
    question: str, texts: Iterable[str], term_shares: TermShares | None = None
) -> list[str]:
    """What of the question's subject ``texts`` do not mention, when that is too much.

    Returns ``[]`` when at least half of the names (and at least one) occur, every precise
    figure, and the rarest name if it is rare: an article about the question's subject may
    well miss a name or two ("Republican governor", "United States" written "U.S."), but
    not the "40.3C" the question is about, nor its most specific name ("Martha's Vineyard",
    in 0.2% of the dev chunks). ``term_shares`` gives the share of the store's chunks that
    hold each name; names the store never mentions are left to the half rule. On dev, every
    gold article mentions its question's rarest name.
    """
    texts = list(texts)
    figures = question_figures(question)
    found = {_plain_number(n) for text in texts for n in _NUMBER.findall(text)}
    missing_figures = [f for f in figures if _plain_number(f) not in found]
    missing_names: list[str] = []
    if names := question_names(question):
        words = {w for text in texts for w in re.findall(r"\w+", text.lower())}
        missing = [n for n in names if not _occurs(n, words)]
        shares = term_shares(names) if term_shares and missing else {}
        rare = [n for n in names if 0 < shares.get(n, 0) <= RARE_NAME_SHARE]
        if len(names) - len(missing) < max(1, len(names) // 2):
            missing_names = missing
        elif rare and (rarest := min(rare, key=shares.__getitem__)) in missing:
            missing_names = [rarest]
    return missing_names + missing_figures


def question_figures(question: str) -> list[str]:
    """The precise figures a question states (with a decimal point or thousands separator).

    With three or more significant digits, "40.3C", "2.04 million" or "1,748 cases" identify
    what is asked about; round numbers ("more than 200,000 trucks") are often rounded
    differently by the article, and plain integers are as often names ("Boeing 737") as
    quantities.
    """
    numbers = _NUMBER.findall(without_options(question))
    return [
        n for n in dict.fromkeys(numbers)
        if ("." in n or "," in n) and len(_plain_number(n).replace(".", "").strip("0")) >= 3
    ]  # fmt: skip


def _plain_number(number: str) -> str:
    return number.replace(",", "").rstrip(".")


def freshness_days(question: str) -> int | None:
    """How recent an article must be to answer a question about "this week" or "recently"."""
    if _THIS_WEEK.search(question):
        return THIS_WEEK_DAYS
    if _LAST_WEEK.search(question):
        return LAST_WEEK_DAYS
    if _LATELY.search(question):
        return RECENT_SENSE_DAYS
    return None


def fresh(question: str, hits: Sequence[Hit], today: date) -> list[Hit]:
    """The hits recent enough for a time-relative question; all hits if it is not one.

    Older articles are kept when none is recent: ``stale`` then explains the refusal. A
    model shown last year's report next to this week's often answers from the old one
    ("Who became prime minister this week?" -> the 2016 article), which the check after it
    speaks can only refuse.
    """
    days = freshness_days(question)
    if days is None:
        return list(hits)
    oldest = today - timedelta(days=days)
    recent = [h for h in hits if h.published is None or h.published >= oldest]
    return recent or list(hits)


def stale(question: str, published: Iterable[date | None], today: date) -> date | None:
    """The newest article date when all are too old for a time-relative question, else None."""
    days = freshness_days(question)
    dates = [d for d in published if d is not None]
    if days is None or not dates or max(dates) >= today - timedelta(days=days):
        return None
    return max(dates)
