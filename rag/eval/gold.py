"""The gold set: ``questions.jsonl`` and ``corpus.jsonl``, validated; selections; halves.

The format is documented in ``docs/evaluation.md``. Every question belongs to one *half*
of its gold set by date (``split_date``): the *tuning* half (the earlier questions), on
which settings may be tuned, and the *check* half (the later ones), which tells whether
the tuning carried over to questions it never saw.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rag.errors import RagError

LETTERS = "ABCDEFGHIJ"  # the labels of multiple-choice options
Half = Literal["tuning", "check"]
HALVES: tuple[Half, ...] = ("tuning", "check")
HALF_RULE = (
    "tuning: questions dated on or before the median question date of the gold set (the "
    "lower median); check: the later ones and undated ones"
)


class EvalError(RagError):
    """An evaluation cannot run as asked (bad gold set, output folder in use, ...)."""


class GoldSetError(EvalError):
    """A gold questions or corpus file is missing or malformed."""


class GoldQuestion(BaseModel):
    """One line of ``questions.jsonl`` (extra fields are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str]
    evidence_doc_ids: list[str]
    answerable: bool
    question_type: str = ""
    question_date: date | None = None
    choices: list[str] = Field(default_factory=list)
    answer_choice_index: int | None = None
    answer_string_found_in_docs: list[str] = Field(default_factory=list)
    withhold: list[str] = Field(default_factory=list)  # doc_ids left out when asking

    @model_validator(mode="after")
    def _check(self) -> GoldQuestion:
        if self.answerable and not any(a.strip() for a in self.answers):
            raise ValueError("an answerable question needs at least one string in 'answers'")
        if self.answer_choice_index is not None and self.choices:
            if not 0 <= self.answer_choice_index < len(self.choices):
                raise ValueError(
                    f"answer_choice_index {self.answer_choice_index} is not an index of "
                    f"the {len(self.choices)} choices"
                )
        if len(self.choices) > len(LETTERS):
            raise ValueError(f"at most {len(LETTERS)} choices are supported")
        return self

    @property
    def kind(self) -> str:
        """``question_type``, defaulting to ``unanswerable`` or ``other``."""
        return self.question_type or ("other" if self.answerable else "unanswerable")

    @property
    def answer_docs(self) -> set[str]:
        """Gold articles plus every article that contains a gold answer string (lenient)."""
        return set(self.evidence_doc_ids) | set(self.answer_string_found_in_docs)


def load_questions(path: str | Path) -> list[GoldQuestion]:
    """Read and validate a ``questions.jsonl`` gold set.

    Args:
        path: A JSON-lines file, one question object a line (see ``docs/evaluation.md``).

    Returns:
        The questions in file order.

    Raises:
        GoldSetError: The file is missing or a line is invalid; the message names every
            bad line (up to ten) and what is wrong with it.

    Example:
        >>> qs = load_questions("tests/data/eval/questions.jsonl")
        >>> qs[0].id, qs[0].answers
        ('mb-1', ['Elena Ruiz', 'Mayor Elena Ruiz'])
    """
    path = Path(path)
    questions: list[GoldQuestion] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for lineno, record in _jsonl(path, problems):
        try:
            question = GoldQuestion.model_validate(record)
        except ValidationError as ex:
            problems.append(f"{path}:{lineno}: {_describe(ex)}")
            continue
        if question.id in first_line:
            problems.append(
                f"{path}:{lineno}: duplicate id {question.id!r} "
                f"(first on line {first_line[question.id]})"
            )
            continue
        first_line[question.id] = lineno
        questions.append(question)
    if problems:
        raise GoldSetError(_problems("questions", problems))
    if not questions:
        raise GoldSetError(f"{path}: no questions")
    return questions


def check_corpus(path: str | Path) -> dict[str, str]:
    """Validate a ``corpus.jsonl`` (``doc_id`` and ``text`` required); ``{doc_id: title}``.

    Raises:
        GoldSetError: naming every bad line (up to ten).
    """
    path = Path(path)
    titles: dict[str, str] = {}
    problems: list[str] = []
    for lineno, record in _jsonl(path, problems):
        missing = [f for f in ("doc_id", "text") if not str(record.get(f) or "").strip()]
        if missing:
            problems.append(
                f"{path}:{lineno}: missing required field " + " and ".join(repr(f) for f in missing)
            )
            continue
        doc_id = str(record["doc_id"])
        if doc_id in titles:
            problems.append(f"{path}:{lineno}: duplicate doc_id {doc_id!r}")
        titles[doc_id] = str(record.get("title") or "")
    if problems:
        raise GoldSetError(_problems("corpus", problems))
    return titles


def _jsonl(path: Path, problems: list[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise GoldSetError(f"file not found: {path}")
    with path.open(encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as ex:
                problems.append(f"{path}:{lineno}: invalid JSON ({ex.msg})")
                continue
            if not isinstance(record, dict):
                problems.append(f"{path}:{lineno}: expected a JSON object")
                continue
            yield lineno, record


def _describe(ex: ValidationError) -> str:
    parts = []
    for err in ex.errors():
        where = ".".join(str(x) for x in err["loc"])
        if err["type"] == "missing":
            parts.append(f"missing required field {where!r}")
        elif where:
            parts.append(f"field {where!r}: {err['msg']}")
        else:
            parts.append(str(err["msg"]).removeprefix("Value error, "))
    return "; ".join(parts)


def _problems(what: str, problems: list[str]) -> str:
    more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
    return f"invalid {what} file:\n" + "\n".join(problems[:10]) + more


# ---- halves -------------------------------------------------------------------------------


def split_date(questions: Sequence[GoldQuestion]) -> date | None:
    """The last date of the tuning half: the median question date (lower median).

    Computed on the whole gold set, so a question's half never depends on which questions
    a run selects. None when no question is dated (then there are no halves).

    Example:
        >>> split_date(load_questions("tests/data/eval/questions.jsonl"))
        datetime.date(2024, 4, 1)
    """
    dates = [q.question_date for q in questions if q.question_date]
    return statistics.median_low(dates) if dates else None


def half_of(question: GoldQuestion, cut: date | None) -> Half | None:
    """The half ``question`` belongs to, given the gold set's ``split_date`` (see HALF_RULE)."""
    if cut is None:
        return None
    if question.question_date is not None and question.question_date <= cut:
        return "tuning"
    return "check"


# ---- what a run asks ----------------------------------------------------------------------


def select(
    questions: Sequence[GoldQuestion],
    types: Iterable[str] | None = None,
    limit: int | None = None,
    half: Half | None = None,
) -> list[GoldQuestion]:
    """The questions of ``half`` and ``types`` (all when None), then the first ``limit``."""
    chosen = list(questions)
    if half is not None:
        if half not in HALVES:
            raise EvalError(f"unknown half {half!r}: choose {' or '.join(HALVES)}")
        cut = split_date(questions)
        if cut is None:
            raise EvalError("--half needs dated questions (question_date): none is dated")
        chosen = [q for q in chosen if half_of(q, cut) == half]
    if types:
        wanted = {t.strip() for t in types if t.strip()}
        known = {q.kind for q in questions}
        if unknown := wanted - known:
            raise EvalError(
                f"unknown question type(s) {', '.join(sorted(unknown))}; "
                f"the gold set has {', '.join(sorted(known))}"
            )
        chosen = [q for q in chosen if q.kind in wanted]
    return chosen[:limit] if limit is not None else chosen


def withheld(questions: Sequence[GoldQuestion]) -> list[GoldQuestion]:
    """Each answerable question again, with its gold and answer-bearing articles withheld.

    Seven unanswerable questions are too few to measure abstention; an answerable question
    asked without the articles that answer it is an unanswerable one from the same
    distribution (same wording, same distractors, same date and so the same half).
    """
    return [
        q.model_copy(
            update={
                "id": f"{q.id}~withheld",
                "answerable": False,
                "answers": [],
                "evidence_doc_ids": [],
                "question_type": "withheld",
                "choices": [],
                "answer_choice_index": None,
                "withhold": sorted(q.answer_docs | set(q.withhold)),
            }
        )
        for q in questions
        if q.answerable
    ]
