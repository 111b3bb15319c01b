"""One question's ``Prediction`` (a line of predictions.jsonl) and its outcome.

The meaning of every outcome is in ``docs/evaluation.md``; the metrics over many
predictions are in ``rag.eval.metrics``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from rag.eval.gold import GoldQuestion, Half
from rag.eval.match import contains_answer, matches_normalized, parse_choice, token_recall
from rag.types import Answer

Mode = Literal["open", "choice"]
MODES: tuple[str, ...] = ("open", "choice")

OUTCOMES = {
    "correct": "answered with a gold answer",
    "correct_abstention": "unanswerable, and the assistant abstained",
    "retrieval_miss": "no gold or answer-bearing article among the retrieved chunks",
    "context_miss": "a gold or answer-bearing article was retrieved, but cut from the "
    "passages the model read",
    "false_abstention": "the evidence was retrieved (and, if the model ran, was in its "
    "passages), yet the assistant abstained",
    "wrong_answer": "the evidence was in the model's passages, yet the answer has no gold answer",
    "answered_unanswerable": "unanswerable, yet the assistant answered",
    "error": "asking raised an error",
}
OK_OUTCOMES = frozenset({"correct", "correct_abstention"})


@dataclass(frozen=True)
class Prediction:
    """One asked question: the answer, what was retrieved, read and cited, gold and scores.

    ``to_json`` is one line of ``predictions.jsonl`` (the field names are its keys); fields
    that older runs did not record are None when such a run is loaded.
    """

    id: str
    question: str
    question_type: str
    answerable: bool
    answer: str
    abstained: bool
    outcome: str = ""
    correct: bool = False
    question_date: str | None = None
    half: Half | None = None
    mode: str = "open"
    asked: str = ""
    abstain_reason: str | None = None
    grounded: bool | None = None
    unsupported: list[str] = field(default_factory=list)
    error: str | None = None
    model: str = ""
    latency_s: float | None = None
    ttft_s: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # what the assistant used: articles of the retrieved chunks, in rank order (also the
    # ranking of hit@k), of the passages the model read, and of its citations
    retrieved_doc_ids: list[str] = field(default_factory=list)
    retrieved_titles: list[str] = field(default_factory=list)
    ranked_doc_ids: list[str] = field(default_factory=list)
    context_doc_ids: list[str] | None = None
    cited_doc_ids: list[str] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)  # Citation fields + "gold"
    # the gold
    answers: list[str] = field(default_factory=list)
    evidence_doc_ids: list[str] = field(default_factory=list)
    evidence_titles: list[str] = field(default_factory=list)
    answer_string_found_in_docs: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    answer_choice_index: int | None = None
    # scores
    evidence_rank: int | None = None
    lenient_rank: int | None = None
    evidence_retrieved: bool = False
    evidence_in_context: bool | None = None
    answer_retrieved: bool | None = None
    answer_in_context: bool | None = None
    contains_gold: bool | None = None
    normalized_match: bool | None = None
    token_recall: float | None = None
    choice_index: int | None = None
    choice_correct: bool | None = None

    @property
    def answer_docs(self) -> set[str]:
        """Gold articles plus the articles that contain a gold answer string."""
        return set(self.evidence_doc_ids) | set(self.answer_string_found_in_docs)

    def to_json(self) -> dict[str, Any]:
        """One line of ``predictions.jsonl``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        """A line of ``predictions.jsonl`` (keys this version does not know are ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def predict(
    gold: GoldQuestion,
    answer: Answer,
    *,
    mode: Mode = "open",
    asked: str | None = None,
    titles: dict[str, str] | None = None,
    half: Half | None = None,
    error: str | None = None,
) -> Prediction:
    """Score one answer against its gold question.

    Args:
        gold: The gold question.
        answer: What ``Assistant.ask`` returned (its ``retrieved`` hits are the ranking).
        mode: ``open`` or ``choice``.
        asked: The text actually asked (the choice form in ``choice`` mode).
        titles: ``{doc_id: title}``, to show gold titles.
        half: The gold set half the question belongs to.
        error: Why asking failed, if it did.
    """
    titles = titles or {}
    lenient = gold.answer_docs
    retrieved = _dedupe(h.doc_id for h in answer.retrieved)
    retrieved_titles = {h.doc_id: h.title for h in answer.retrieved}
    context = _dedupe(p.hit.doc_id for p in answer.passages)
    contains = normalized = token = picked = choice_ok = None
    in_retrieved = in_context = None
    if gold.answerable:
        in_retrieved = contains_answer(" \n ".join(h.text for h in answer.retrieved), gold.answers)
        in_context = contains_answer(" \n ".join(p.text for p in answer.passages), gold.answers)
        if mode == "open":
            contains = contains_answer(answer.text, gold.answers)
            normalized = matches_normalized(answer.text, gold.answers)
            token = round(token_recall(answer.text, gold.answers), 4)
    if mode == "choice" and gold.choices:
        picked = parse_choice(answer.text, gold.choices)
        if gold.answerable and gold.answer_choice_index is not None:
            choice_ok = picked == gold.answer_choice_index
    correct = (contains if mode == "open" else choice_ok) if gold.answerable else answer.abstained
    prediction = Prediction(
        id=gold.id,
        question=gold.question,
        question_type=gold.kind,
        question_date=gold.question_date.isoformat() if gold.question_date else None,
        half=half,
        answerable=gold.answerable,
        mode=mode,
        asked=asked or gold.question,
        answer=answer.text,
        abstained=answer.abstained,
        abstain_reason=answer.abstain_reason,
        grounded=answer.grounded,
        unsupported=answer.unsupported,
        retrieved_doc_ids=retrieved,
        retrieved_titles=[retrieved_titles[d] for d in retrieved],
        ranked_doc_ids=retrieved,
        context_doc_ids=context,
        cited_doc_ids=_dedupe(c.doc_id for c in answer.citations),
        citations=[
            {**_jsonable(dataclasses.asdict(c)), "gold": c.doc_id in lenient}
            for c in answer.citations
        ],
        latency_s=answer.timings.get("total_s"),
        ttft_s=answer.timings.get("ttft_s"),
        timings=answer.timings,
        model=answer.model,
        error=error,
        answers=gold.answers,
        evidence_doc_ids=gold.evidence_doc_ids,
        evidence_titles=[titles.get(d, "") for d in gold.evidence_doc_ids],
        answer_string_found_in_docs=gold.answer_string_found_in_docs,
        choices=gold.choices,
        answer_choice_index=gold.answer_choice_index,
        evidence_rank=first_rank(retrieved, gold.evidence_doc_ids),
        lenient_rank=first_rank(retrieved, lenient),
        evidence_retrieved=bool(lenient & set(retrieved)),
        evidence_in_context=bool(lenient & set(context)),
        answer_retrieved=in_retrieved,
        answer_in_context=in_context,
        contains_gold=contains,
        normalized_match=normalized,
        token_recall=token,
        choice_index=picked,
        choice_correct=choice_ok,
        correct=bool(correct) and error is None,
    )
    return dataclasses.replace(prediction, outcome=classify(prediction))


def classify(p: Prediction) -> str:
    """Name what happened to one question (a key of ``OUTCOMES``).

    A wrong answerable question is a retrieval miss when no gold or answer-bearing article
    was retrieved, and a context miss when one was but the model ran without reading it;
    else a false abstention or a wrong answer. (When the assistant refused before the
    model ran, nothing was cut from a context: a refusal with the evidence retrieved is a
    false abstention.)
    """
    if p.error:
        return "error"
    if not p.answerable:
        return "correct_abstention" if p.abstained else "answered_unanswerable"
    if p.correct:
        return "correct"
    if not p.evidence_retrieved:
        return "retrieval_miss"
    if p.context_doc_ids and not p.evidence_in_context:
        return "context_miss"
    return "false_abstention" if p.abstained else "wrong_answer"


def first_rank(ranked: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant id in ``ranked`` (None when absent)."""
    relevant = set(relevant)
    return next((i for i, doc in enumerate(ranked, 1) if doc in relevant), None)


def _dedupe(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in d.items()}
