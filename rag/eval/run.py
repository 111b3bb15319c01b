"""Gold questions -> ``EvalReport``: ask every question, score retrieval, answers and citations.

A run writes into its ``out`` folder::

    predictions.jsonl   one line per question: our answer, what was retrieved and cited,
                        the gold fields and the per-question scores (written as it goes)
    metrics.json        every metric, overall and by question_type, with config and versions
    report.md/.html     the report people read (``rag.report``); figures/ holds its PNGs
    store/              the fresh store, when a corpus was given

``compare(run_a, run_b)`` lines two runs up metric by metric and question by question.
The gold-set format and the meaning of every metric are in ``docs/evaluation.md``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import re
import shutil
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tqdm.auto import tqdm

from rag.assistant import Assistant
from rag.errors import EmptyStoreError, ModelError, RagError, StoreLockedError
from rag.types import Answer

logger = logging.getLogger(__name__)

Mode = Literal["open", "choice"]
MODES: tuple[str, ...] = ("open", "choice")
KS = (1, 3, 5, 10)
DEPTH = 10  # articles ranked per question for hit@k/MRR, independent of the answer's k
LETTERS = "ABCDEFGHIJ"
OUTPUT_NAMES = ("predictions.jsonl", "metrics.json", "report.md", "report.html", "store")
PACKAGES = ("newsqa", "langchain-core", "chromadb", "sentence-transformers", "transformers",
            "torch", "llama-cpp-python", "langchain-openai", "numpy")  # fmt: skip
_MAX_CONSECUTIVE_ERRORS = 3
_FATAL = (EmptyStoreError, ModelError, StoreLockedError)

OUTCOMES = {
    "correct": "answered with a gold answer",
    "correct_abstention": "unanswerable, and the assistant abstained",
    "retrieval_miss": "no gold or answer-bearing article among the passages the model saw",
    "false_abstention": "the evidence was retrieved, yet the assistant abstained",
    "wrong_answer": "the evidence was retrieved, yet the answer has no gold answer",
    "answered_unanswerable": "unanswerable, yet the assistant answered",
    "error": "asking raised an error",
}
OK_OUTCOMES = frozenset({"correct", "correct_abstention"})


class EvalError(RagError):
    """An evaluation cannot run as asked (bad gold set, output folder in use, ...)."""


# ---- the gold set -------------------------------------------------------------------------


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
        >>> qs = load_questions("../shared/eval/dev/questions.jsonl")
        >>> qs[0].id, qs[0].answers
        ('dev-20220916_3', ['Reduce US cancer deaths by at least 50%'])
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
            problems.append(f"{path}:{lineno}: duplicate id {question.id!r} "
                            f"(first on line {first_line[question.id]})")  # fmt: skip
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
            problems.append(f"{path}:{lineno}: missing required field "
                            + " and ".join(repr(f) for f in missing))  # fmt: skip
            continue
        doc_id = str(record["doc_id"])
        if doc_id in titles:
            problems.append(f"{path}:{lineno}: duplicate doc_id {doc_id!r}")
        titles[doc_id] = str(record.get("title") or "")
    if problems:
        raise GoldSetError(_problems("corpus", problems))
    return titles


class GoldSetError(EvalError):
    """A gold questions or corpus file is missing or malformed."""


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


def select(
    questions: Sequence[GoldQuestion],
    types: Iterable[str] | None = None,
    limit: int | None = None,
) -> list[GoldQuestion]:
    """The questions of the given types (all when None), then the first ``limit``."""
    chosen = list(questions)
    if types:
        wanted = {t.strip() for t in types if t.strip()}
        known = {q.kind for q in questions}
        if unknown := wanted - known:
            raise EvalError(f"unknown question type(s) {', '.join(sorted(unknown))}; "
                            f"the gold set has {', '.join(sorted(known))}")  # fmt: skip
        chosen = [q for q in chosen if q.kind in wanted]
    return chosen[:limit] if limit is not None else chosen


def withheld(questions: Sequence[GoldQuestion]) -> list[GoldQuestion]:
    """Each answerable question again, with its gold and answer-bearing articles withheld.

    Seven unanswerable questions are too few to measure abstention; an answerable question
    asked without the articles that answer it is an unanswerable one from the same
    distribution (same wording, same distractors).
    """
    return [
        q.model_copy(update={
            "id": f"{q.id}~withheld", "answerable": False, "answers": [],
            "evidence_doc_ids": [], "question_type": "withheld", "choices": [],
            "answer_choice_index": None, "withhold": sorted(q.answer_docs | set(q.withhold)),
        })
        for q in questions if q.answerable
    ]  # fmt: skip


# ---- scoring one question -----------------------------------------------------------------


def normalize(text: str) -> str:
    """Lowercase; drop punctuation and the articles a/an/the; collapse whitespace.

    ``[n]`` citation markers go, and so does a possessive ``'s`` (``Italy's`` = ``italy``:
    "Italy's new prime minister" answers "Italy"). Other apostrophes and the dots of
    abbreviations are deleted (``O'Neill`` = ``oneill``, ``U.S.`` = ``us``), thousands
    separators too (``1,000`` = ``1000``); a decimal point stays (``1.5`` != ``15``); other
    punctuation separates words (``state-run`` = ``state run``, ``Ruiz.[1]`` = ``ruiz``).

    Example:
        >>> normalize("The U.S. spent $1,200.5 on a state-run “moonshot” [2].")
        'us spent $1200.5 on state run moonshot'
    """
    text = unicodedata.normalize("NFKC", _MARKERS.sub(" ", text)).casefold()
    text = _POSSESSIVE.sub("", text)
    out: list[str] = []
    for i, ch in enumerate(text):
        if not unicodedata.category(ch).startswith("P"):
            out.append(ch)
            continue
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        if ch == "." and before.isdigit() and after.isdigit():
            out.append(ch)
        elif ch in _APOSTROPHES or (ch == "," and before.isdigit() and after.isdigit()):
            continue
        elif ch == "." and before.isalpha() and (after.isalpha() or _abbreviation(text, i)):
            continue
        else:
            out.append(" ")
    text = re.sub(r"\b(a|an|the)\b", " ", "".join(out))
    return " ".join(text.split())


_MARKERS = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
_APOSTROPHES = frozenset("'’ʼ`")
_POSSESSIVE = re.compile(r"(?<=\w)['’ʼ]s\b")


def _abbreviation(text: str, i: int) -> bool:
    """Whether the dot at ``i`` ends a dotted abbreviation such as ``U.S.`` (``x.y.`` form)."""
    return i >= 2 and text[i - 2] == "." and text[i - 1].isalpha()


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether some gold answer occurs in ``text``, both normalised, on word boundaries."""
    haystack = f" {normalize(text)} "
    return any(gold and f" {gold} " in haystack for gold in map(normalize, answers))


def token_recall(text: str, answers: Iterable[str]) -> float:
    """The best share of a gold answer's (normalised) words found in ``text``."""
    words = Counter(normalize(text).split())
    best = 0.0
    for gold in answers:
        want = Counter(normalize(gold).split())
        if want:
            best = max(best, sum((want & words).values()) / sum(want.values()))
    return best


def first_rank(ranked: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant id in ``ranked`` (None when absent)."""
    relevant = set(relevant)
    return next((i for i, doc in enumerate(ranked, 1) if doc in relevant), None)


def hit_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> bool:
    """Whether a relevant id is among the first ``k`` of ``ranked``."""
    rank = first_rank(ranked, relevant)
    return rank is not None and rank <= k


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str]) -> float:
    """``1 / rank`` of the first relevant id, 0 when none was ranked."""
    rank = first_rank(ranked, relevant)
    return 1.0 / rank if rank else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant ids among the first ``k`` of ``ranked``."""
    relevant = set(relevant)
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def choice_question(question: str, choices: Sequence[str]) -> str:
    """The multiple-choice form of a question: lettered options and how to reply.

    Example:
        >>> choice_question("Who will headline?", ["Adele", "Rihanna"])
        'Who will headline? Options: (A) Adele; (B) Rihanna. Reply with the letter and the text of the correct option, then cite the passage.'

    The option's text is asked for, not just its letter: the assistant keeps only answer
    sentences whose words it finds in the cited passage, and a bare letter has none.
    """  # noqa: E501
    options = "; ".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(choices))
    return (f"{question.strip()} Options: {options}. Reply with the letter and the text of "
            "the correct option, then cite the passage.")  # fmt: skip


def parse_choice(text: str, choices: Sequence[str]) -> int | None:
    """The option an answer picked: by its letter, else by its text; None if unclear.

    Example:
        >>> parse_choice("(C) Rihanna [1].", ["Adele", "Drake", "Rihanna"])
        2
        >>> parse_choice("A new law passed [1].", ["x", "y"]) is None
        True
    """
    letters = LETTERS[: len(choices)]
    if not letters:
        return None
    one = f"[{letters}]"
    patterns = (
        rf"\(({one})\)",  # (B)
        rf"\b(?i:answer|option|choice)\s*(?i:is\s*)?:?\s*\(?({one})\b",  # answer: B
        rf"^[\W_]*({one})(?:[).:\]*]|\s*\[|\s*$)",  # B) / B. / B [1] / B
    )
    for pattern in patterns:
        if match := re.search(pattern, text.strip()):
            return letters.index(match.group(1))
    found = [i for i, c in enumerate(choices) if normalize(c) and contains_answer(text, [c])]
    if not found:
        return None
    return max(found, key=lambda i: len(normalize(choices[i])))  # the most specific option


# ---- one prediction -------------------------------------------------------------------------


def predict_row(
    gold: GoldQuestion,
    answer: Answer,
    ranked: Sequence[str],
    *,
    mode: Mode = "open",
    asked: str | None = None,
    titles: dict[str, str] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One line of ``predictions.jsonl``: the answer, what was retrieved, gold and scores.

    Args:
        gold: The gold question.
        answer: What ``Assistant.ask`` returned.
        ranked: Article ids of the deeper retrieval (best first, deduplicated).
        mode: ``open`` or ``choice``.
        asked: The text actually asked (the choice form in ``choice`` mode).
        titles: ``{doc_id: title}``, to show gold titles.
        error: Why asking failed, if it did.
    """
    titles = titles or {}
    lenient = gold.answer_docs
    retrieved = _dedupe(h.doc_id for h in answer.retrieved)
    retrieved_titles = {h.doc_id: h.title for h in answer.retrieved}
    cited = _dedupe(c.doc_id for c in answer.citations)
    citations = [
        {**_jsonable(dataclasses.asdict(c)), "gold": c.doc_id in lenient} for c in answer.citations
    ]
    contains = token = picked = choice_ok = None
    if gold.answerable and mode == "open":
        contains = contains_answer(answer.text, gold.answers)
        token = round(token_recall(answer.text, gold.answers), 4)
    if mode == "choice" and gold.choices:
        picked = parse_choice(answer.text, gold.choices)
        if gold.answerable and gold.answer_choice_index is not None:
            choice_ok = picked == gold.answer_choice_index
    correct = (contains if mode == "open" else choice_ok) if gold.answerable else answer.abstained
    row: dict[str, Any] = {
        "id": gold.id,
        "question": gold.question,
        "question_type": gold.kind,
        "question_date": _iso(gold.question_date),
        "answerable": gold.answerable,
        "mode": mode,
        "asked": asked or gold.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
        "grounded": answer.grounded,
        "unsupported": answer.unsupported,
        "retrieved_doc_ids": retrieved,
        "retrieved_titles": [retrieved_titles[d] for d in retrieved],
        "ranked_doc_ids": list(ranked),
        "cited_doc_ids": cited,
        "citations": citations,
        "latency_s": answer.timings.get("total_s"),
        "ttft_s": answer.timings.get("ttft_s"),
        "timings": answer.timings,
        "model": answer.model,
        "error": error,
        "answers": gold.answers,
        "evidence_doc_ids": gold.evidence_doc_ids,
        "evidence_titles": [titles.get(d, "") for d in gold.evidence_doc_ids],
        "answer_string_found_in_docs": gold.answer_string_found_in_docs,
        "choices": gold.choices,
        "answer_choice_index": gold.answer_choice_index,
        "evidence_rank": first_rank(ranked, gold.evidence_doc_ids),
        "lenient_rank": first_rank(ranked, lenient),
        "evidence_retrieved": bool(lenient & set(retrieved)),
        "contains_gold": contains,
        "token_recall": token,
        "choice_index": picked,
        "choice_correct": choice_ok,
        "correct": bool(correct) and error is None,
    }
    row["outcome"] = classify(row)
    return row


def classify(row: dict[str, Any]) -> str:
    """Name what happened to one question (a key of ``OUTCOMES``).

    A wrong answerable question is a retrieval miss when no gold or answer-bearing article
    reached the model (whatever it then said); else a false abstention or a wrong answer.
    """
    if row.get("error"):
        return "error"
    if not row["answerable"]:
        return "correct_abstention" if row["abstained"] else "answered_unanswerable"
    if row["correct"]:
        return "correct"
    if not row["evidence_retrieved"]:
        return "retrieval_miss"
    return "false_abstention" if row["abstained"] else "wrong_answer"


# ---- aggregate metrics ----------------------------------------------------------------------


@dataclass(frozen=True)
class MetricInfo:
    """How to show and compare one metric."""

    label: str
    higher_is_better: bool
    unit: Literal["rate", "seconds", "score"]
    of: str  # the count it is computed over
    help: str


def _retrieval_metrics() -> dict[str, MetricInfo]:
    metrics = {}
    kinds = [("", "", "gold article"),
             ("lenient_", "lenient ", "gold or answer-bearing article")]  # fmt: skip
    for prefix, label, what in kinds:
        for k in KS:
            metrics[f"{prefix}hit@{k}"] = MetricInfo(
                f"{label}hit@{k}", True, "rate", "n_retrieval",
                f"share of questions with a {what} among the top {k} retrieved articles",
            )  # fmt: skip
        metrics[f"{prefix}mrr"] = MetricInfo(
            f"{label}MRR", True, "score", "n_retrieval",
            f"mean of 1/rank of the first {what} (0 beyond rank {DEPTH})",
        )  # fmt: skip
    metrics["recall@10"] = MetricInfo(
        "recall@10", True, "rate", "n_retrieval",
        "mean share of the gold articles among the top 10 (matters for multi_doc)",
    )  # fmt: skip
    return metrics


METRICS: dict[str, MetricInfo] = {
    "accuracy": MetricInfo("accuracy", True, "rate", "n",
                           "right answers plus right abstentions, over all questions"),
    **_retrieval_metrics(),
    "contains_gold": MetricInfo("answer contains gold", True, "rate", "n_answerable",
                                "open mode: a gold answer occurs in the normalised answer"),
    "token_recall": MetricInfo("token recall", True, "score", "n_answerable",
                               "open mode: best share of a gold answer's words in the answer"),
    "choice_accuracy": MetricInfo("choice accuracy", True, "rate", "n_answerable",
                                  "choice mode: the picked option is answer_choice_index"),
    "citation_precision": MetricInfo("citation precision", True, "rate", "n_cited_docs",
                                     "share of cited articles that are gold or answer-bearing"),
    "all_citations_gold": MetricInfo("all citations gold", True, "rate", "n_cited_answers",
                                     "share of cited answers whose every citation is gold "
                                     "or answer-bearing"),
    "citations_supported": MetricInfo("citations supported", True, "rate", "n_checked_citations",
                                      "share of citations the support check marked supported"),
    "abstention_unanswerable": MetricInfo("abstention on unanswerable", True, "rate",
                                          "n_unanswerable",
                                          "share of unanswerable questions refused"),
    "false_abstention": MetricInfo("false abstention", False, "rate", "n_answerable",
                                   "share of answerable questions refused"),
    "latency_p50_s": MetricInfo("latency p50", False, "seconds", "n_timed", "median answer time"),
    "latency_p95_s": MetricInfo("latency p95", False, "seconds", "n_timed",
                                "95th-percentile answer time"),
    "ttft_p50_s": MetricInfo("TTFT p50", False, "seconds", "n_ttft",
                             "median time to the first answer token"),
    "ttft_p95_s": MetricInfo("TTFT p95", False, "seconds", "n_ttft",
                             "95th-percentile time to the first token"),
}  # fmt: skip


def score(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate prediction rows into the metrics of ``METRICS`` plus their counts.

    A metric whose count is 0 is None (e.g. retrieval metrics of unanswerable questions).
    """
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    with_evidence = [r for r in answerable if r["evidence_doc_ids"]]
    cited = [r for r in answerable if r["cited_doc_ids"] and not r["abstained"]]
    lenient = {r["id"]: set(r["evidence_doc_ids"]) | set(r["answer_string_found_in_docs"])
               for r in rows}  # fmt: skip
    cited_docs = [d in lenient[r["id"]] for r in cited for d in r["cited_doc_ids"]]
    checked = [c["supported"] for r in rows for c in r["citations"] if c["supported"] is not None]
    latency = [r["latency_s"] for r in rows if r["latency_s"] is not None]
    ttft = [r["ttft_s"] for r in rows if r["ttft_s"] is not None]
    m: dict[str, Any] = {
        "n": len(rows), "n_answerable": len(answerable), "n_unanswerable": len(unanswerable),
        "n_retrieval": len(with_evidence), "n_cited_docs": len(cited_docs),
        "n_cited_answers": len(cited), "n_checked_citations": len(checked),
        "n_timed": len(latency), "n_ttft": len(ttft),
        "errors": sum(1 for r in rows if r.get("error")),
        "accuracy": _mean(r["outcome"] in OK_OUTCOMES for r in rows),
    }  # fmt: skip
    for prefix, relevant in (("", lambda r: r["evidence_doc_ids"]),
                             ("lenient_", lambda r: lenient[r["id"]])):  # fmt: skip
        for k in KS:
            m[f"{prefix}hit@{k}"] = _mean(
                hit_at_k(r["ranked_doc_ids"], relevant(r), k) for r in with_evidence
            )
        m[f"{prefix}mrr"] = _mean(
            reciprocal_rank(r["ranked_doc_ids"], relevant(r)) for r in with_evidence
        )
    m["recall@10"] = _mean(
        recall_at_k(r["ranked_doc_ids"], r["evidence_doc_ids"], 10) for r in with_evidence
    )
    m["contains_gold"] = _mean(r["contains_gold"] for r in answerable
                               if r["contains_gold"] is not None)  # fmt: skip
    m["token_recall"] = _mean(r["token_recall"] for r in answerable
                              if r["token_recall"] is not None)  # fmt: skip
    m["choice_accuracy"] = _mean(r["choice_correct"] for r in answerable
                                 if r["choice_correct"] is not None)  # fmt: skip
    m["citation_precision"] = _mean(cited_docs)
    m["all_citations_gold"] = _mean(set(r["cited_doc_ids"]) <= lenient[r["id"]] for r in cited)
    m["citations_supported"] = _mean(bool(s) for s in checked)
    m["abstention_unanswerable"] = _mean(r["abstained"] for r in unanswerable)
    m["false_abstention"] = _mean(r["abstained"] for r in answerable)
    for name, values in (("latency", latency), ("ttft", ttft)):
        for q in (50, 95):
            m[f"{name}_p{q}_s"] = round(float(np.percentile(values, q)), 3) if values else None
    return m


def hit_curve(rows: Sequence[dict[str, Any]], lenient: bool = False) -> list[float | None]:
    """hit@k for k = 1..DEPTH over the answerable questions with gold articles."""
    with_evidence = [r for r in rows if r["answerable"] and r["evidence_doc_ids"]]
    key = "lenient_rank" if lenient else "evidence_rank"
    return [
        _mean(r[key] is not None and r[key] <= k for r in with_evidence)
        for k in range(1, DEPTH + 1)
    ]


def outcomes(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many questions ended in each ``OUTCOMES`` class (all classes, zeros included)."""
    counts = Counter(r["outcome"] for r in rows)
    return {name: counts.get(name, 0) for name in OUTCOMES}


def _mean(values: Iterable[Any]) -> float | None:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else None


# ---- the report ---------------------------------------------------------------------------


@dataclass
class EvalReport:
    """What ``evaluate`` returns, and what ``metrics.json`` + ``predictions.jsonl`` hold.

    Attributes:
        metrics: Overall metrics (keys of ``METRICS``, plus ``n_*`` counts and ``errors``).
        by_type: The same metrics for each question_type.
        outcomes: Outcome counts, under ``all`` and each question_type.
        predictions: One dict per question (the lines of ``predictions.jsonl``).
        run: Mode, k, files, model, timing and whether the run was interrupted.
        ingest: Ingest time and counts when a corpus was given, else None.
        config: ``Settings.model_dump()`` of the assistant used.
        versions: Versions of Python and of the packages that shape the results.
        out: The folder written to, if any.
    """

    metrics: dict[str, Any]
    by_type: dict[str, dict[str, Any]]
    outcomes: dict[str, dict[str, int]]
    predictions: list[dict[str, Any]]
    run: dict[str, Any] = field(default_factory=dict)
    ingest: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    out: Path | None = None

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]], **fields: Any) -> EvalReport:
        """Score prediction rows, overall and by question_type."""
        kinds = sorted({r["question_type"] for r in rows})
        return cls(
            metrics=score(rows),
            by_type={t: score([r for r in rows if r["question_type"] == t]) for t in kinds},
            outcomes={"all": outcomes(rows)} | {
                t: outcomes([r for r in rows if r["question_type"] == t]) for t in kinds
            },
            predictions=list(rows),
            **fields,
        )  # fmt: skip

    @classmethod
    def load(cls, run_dir: str | Path) -> EvalReport:
        """Read a run folder written by ``evaluate`` (metrics.json + predictions.jsonl)."""
        run_dir = Path(run_dir)
        metrics_path, predictions_path = run_dir / "metrics.json", run_dir / "predictions.jsonl"
        for path in (metrics_path, predictions_path):
            if not path.is_file():
                raise EvalError(f"not an eval run folder (no {path.name}): {run_dir}")
        data = json.loads(metrics_path.read_text(encoding="utf-8"))
        with predictions_path.open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return cls(
            metrics=data["overall"], by_type=data.get("by_type", {}),
            outcomes=data.get("outcomes", {}), predictions=rows, run=data.get("run", {}),
            ingest=data.get("ingest"), config=data.get("config", {}),
            versions=data.get("versions", {}), out=run_dir,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` shape (everything but the predictions)."""
        return {
            "run": self.run, "overall": self.metrics, "by_type": self.by_type,
            "outcomes": self.outcomes, "ingest": self.ingest, "config": self.config,
            "versions": self.versions,
        }  # fmt: skip

    def failures(self) -> list[dict[str, Any]]:
        """Questions that went wrong, worst first.

        Answered-unanswerable first, then wrong answers, false abstentions, retrieval misses
        and errors; within a class, the fewest gold words first.
        """
        order = ["answered_unanswerable", "wrong_answer", "false_abstention", "retrieval_miss",
                 "error"]  # fmt: skip
        bad = [r for r in self.predictions if r["outcome"] in order]
        return sorted(bad, key=lambda r: (order.index(r["outcome"]), r["token_recall"] or 0.0))

    def write(self, out: str | Path | None = None) -> list[Path]:
        """Write ``metrics.json``, ``report.md``, ``report.html`` (and figures) into ``out``."""
        from rag.report import write as write_report  # matplotlib is imported only here

        target = Path(out or self.out or ".")
        target.mkdir(parents=True, exist_ok=True)
        metrics_path = target / "metrics.json"
        metrics_path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")  # fmt: skip
        return [metrics_path, *write_report(self, target)]


# ---- running an evaluation -----------------------------------------------------------------


def evaluate(
    assistant: Assistant,
    questions: str | Path | Sequence[GoldQuestion],
    *,
    corpus: str | Path | None = None,
    out: str | Path | None = None,
    k: int | None = None,
    mode: Mode = "open",
    limit: int | None = None,
    types: Iterable[str] | None = None,
    overwrite: bool = False,
    withhold_gold: bool = False,
    progress: bool = False,
) -> EvalReport:
    """Ask every gold question as of its ``question_date`` and score the answers.

    Each question is also retrieved ``DEPTH`` articles deep (no LLM call) for hit@k and MRR.
    With ``out``, predictions are written as they come and the metrics and reports at the
    end (also when interrupted with Ctrl-C, marked ``run.interrupted``; the interrupt is
    then re-raised).

    Args:
        assistant: The assistant to evaluate; its store is used unless ``corpus`` is given.
        questions: A ``questions.jsonl`` path, or questions already loaded.
        corpus: Articles to ingest into a fresh store at ``out/store`` (never the
            assistant's own store); requires ``out``.
        out: The run folder. It must not hold a previous run unless ``overwrite``.
        k: Passages given to the model (default: ``retrieve.k`` of the config).
        mode: ``open`` (free answer) or ``choice`` (pick one of ``choices`` by letter).
        limit: Ask only the first ``limit`` (selected) questions.
        types: Ask only these question types.
        overwrite: Replace a previous run in ``out`` (its store included).
        withhold_gold: Ask the answerable questions with their gold and answer-bearing
            articles left out (see ``withheld``); abstaining is then the right answer.
        progress: Show a progress bar with running metrics on stderr.

    Returns:
        The report; ``report.out`` is the run folder when ``out`` was given.

    Raises:
        EvalError: Invalid gold set, output folder in use or an empty store.

    Example:
        >>> from rag import Assistant
        >>> from rag.evaluate import evaluate
        >>> report = evaluate(Assistant.from_config(), "../shared/eval/dev/questions.jsonl",
        ...                   corpus="../shared/eval/dev/corpus.jsonl", out="runs/dev", limit=5)
        >>> report.metrics["hit@5"], report.metrics["contains_gold"]
        (0.8, 0.6)
    """
    if mode not in MODES:
        raise EvalError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    source = questions if isinstance(questions, str | Path) else None
    gold = load_questions(questions) if isinstance(questions, str | Path) else list(questions)
    gold = select(gold, types, limit)
    if withhold_gold:
        gold = withheld(gold)
    if mode == "choice":
        _check_choices(gold)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        _prepare(out_dir, overwrite, keep=assistant.settings.store_path)
    elif corpus is not None:
        raise EvalError("a corpus is ingested into a fresh store under the run folder: give out")

    started = time.perf_counter()
    run: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "questions_file": str(source) if source else None,
        "corpus_file": str(corpus) if corpus else None,
        "mode": mode, "limit": limit, "types": sorted(types) if types else None,
        "withhold_gold": withhold_gold,
    }  # fmt: skip
    ingest_info = None
    if corpus is not None:
        assert out_dir is not None
        assistant, ingest_info = _ingest_fresh(assistant, Path(corpus), out_dir / "store",
                                               progress)  # fmt: skip
    if assistant.store.count() == 0:
        raise EvalError("The store is empty: give a corpus (--corpus) or ingest articles first.")
    titles = {a.doc_id: a.title for a in assistant.list_articles()}
    missing = sorted({d for q in gold for d in q.evidence_doc_ids} - titles.keys())
    if missing:
        logger.warning("%d gold articles are not in the store, e.g. %s", len(missing),
                       ", ".join(missing[:3]))  # fmt: skip
    k = k or assistant.settings.retrieve.k
    run |= {
        "store": str(assistant.settings.store_path), "k": k, "depth": DEPTH,
        "n_questions": len(gold), "missing_evidence_doc_ids": missing,
        "model": assistant.model_name, "embed_model": assistant.settings.embed.model,
    }  # fmt: skip
    fields = {"ingest": ingest_info, "config": assistant.settings.model_dump(mode="json"),
              "versions": versions(), "out": out_dir}  # fmt: skip

    rows: list[dict[str, Any]] = []

    def finish(stopped_by: str | None = None) -> EvalReport:
        run.update(
            completed=len(rows),
            interrupted=stopped_by is not None,
            stopped_by=stopped_by,
            duration_s=round(time.perf_counter() - started, 2),
        )
        run["model"] = next((r["model"] for r in rows if r["model"]), run["model"])
        return EvalReport.from_rows(rows, run=run, **fields)  # fmt: skip

    try:
        _ask_all(assistant, gold, rows, mode=mode, k=k, titles=titles, out=out_dir,
                 progress=progress)  # fmt: skip
    except BaseException as ex:  # Ctrl-C or a fatal error: keep what was done, then re-raise
        if out_dir is not None and rows:
            try:
                finish(stopped_by=type(ex).__name__).write(out_dir)
                logger.warning("stopped after %d of %d questions; partial report in %s",
                               len(rows), len(gold), out_dir)  # fmt: skip
            except Exception:
                logger.exception("could not write the partial report")
        raise
    finally:
        if corpus is not None:
            assistant.store.close()  # the run's own store; the caller never sees it
    report = finish()
    if out_dir is not None:
        report.write(out_dir)
    return report


def versions() -> dict[str, str]:
    """Python's and the installed versions of the packages that shape results."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _check_choices(gold: Sequence[GoldQuestion]) -> None:
    bad = [q.id for q in gold if not q.choices or (q.answerable and q.answer_choice_index is None)]
    if bad:
        raise GoldSetError(
            f"--mode choice needs 'choices' (and 'answer_choice_index' when answerable); "
            f"missing for {len(bad)} question(s): {', '.join(bad[:10])}"
        )


def _prepare(out: Path, overwrite: bool, keep: Path) -> None:
    if out.exists() and not out.is_dir():
        raise EvalError(f"--out must be a folder: {out}")
    used = [name for name in OUTPUT_NAMES if (out / name).exists()]
    if used and not overwrite:
        raise EvalError(f"{out} already holds a run ({', '.join(used)}): choose a new "
                        "folder or pass --overwrite")  # fmt: skip
    store = out / "store"
    if store.is_dir():
        # Delete only a store that a previous eval made, never the user's own store.
        ours = (out / "predictions.jsonl").exists() or (out / "metrics.json").exists()
        if not ours or store.resolve() == keep.expanduser().resolve():
            raise EvalError(f"refusing to delete {store}: it is not a store made by rag eval")
        shutil.rmtree(store)
    out.mkdir(parents=True, exist_ok=True)


def _ingest_fresh(
    assistant: Assistant, corpus: Path, store_dir: Path, progress: bool
) -> tuple[Assistant, dict[str, Any]]:
    """A copy of ``assistant`` over a new store holding ``corpus``, and how ingest went."""
    if corpus.suffix.lower() == ".jsonl":
        check_corpus(corpus)
    elif not corpus.exists():
        raise GoldSetError(f"file not found: {corpus}")
    # A local store even when the assistant's lives on a Chroma server (store.url).
    local = assistant.settings.store.model_copy(update={"path": store_dir, "url": None})
    settings = assistant.settings.model_copy(update={"store": local})
    fresh = Assistant(settings, llm=assistant.llm, embedder=assistant.embedder)
    started = time.perf_counter()
    result = fresh.ingest([corpus], progress=progress)  # models are loaded: this is ingest
    seconds = round(time.perf_counter() - started, 2)
    if result.failed:
        lines = "\n".join(f"{path}: {reason}" for path, reason in result.failed[:10])
        raise GoldSetError(f"{len(result.failed)} corpus record(s) could not be ingested:\n"
                           f"{lines}")  # fmt: skip
    logger.info("ingested %s in %.1fs", result, seconds)
    articles = len(result.added) + len(result.updated) + len(result.unchanged)
    info = {"seconds": seconds, "articles": articles, "chunks": result.chunks,
            "store": str(store_dir)}  # fmt: skip
    return fresh, info


def _ask_all(
    assistant: Assistant,
    gold: Sequence[GoldQuestion],
    rows: list[dict[str, Any]],
    *,
    mode: Mode,
    k: int,
    titles: dict[str, str],
    out: Path | None,
    progress: bool,
) -> None:
    """Ask each question, appending its row to ``rows`` (and predictions.jsonl) at once."""
    predictions = (out / "predictions.jsonl").open("w", encoding="utf-8") if out else None
    depth = DEPTH * assistant.settings.retrieve.max_per_article
    errors_in_a_row = 0
    bar = tqdm(gold, desc="eval", unit="q", disable=not progress, dynamic_ncols=True)
    try:
        for q in bar:
            today = q.question_date or date.today()
            asked = choice_question(q.question, q.choices) if mode == "choice" else q.question
            hits = assistant.retrieve(q.question, k=depth, today=today, exclude=q.withhold)
            ranked = _dedupe(h.doc_id for h in hits)[:DEPTH]
            error = None
            try:
                answer = assistant.ask(asked, today=today, k=k, exclude=q.withhold)
                errors_in_a_row = 0
            except _FATAL:
                raise
            except Exception as ex:  # one bad question must not sink a 20-minute run
                errors_in_a_row += 1
                if errors_in_a_row >= _MAX_CONSECUTIVE_ERRORS:
                    raise
                logger.warning("question %s failed: %s", q.id, ex)
                error = f"{type(ex).__name__}: {ex}"
                answer = Answer(question=asked, text="")
            row = predict_row(q, answer, ranked, mode=mode, asked=asked, titles=titles,
                              error=error)  # fmt: skip
            rows.append(row)
            if predictions:
                predictions.write(json.dumps(row, ensure_ascii=False) + "\n")
                predictions.flush()
            bar.set_postfix(_running(rows), refresh=False)
    finally:
        bar.close()
        if predictions:
            predictions.close()


def _running(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The few numbers shown next to the progress bar."""
    with_evidence = [r for r in rows if r["answerable"] and r["evidence_doc_ids"]]
    shown = {
        "hit@5": _mean(r["evidence_rank"] is not None and r["evidence_rank"] <= 5
                       for r in with_evidence),
        "acc": _mean(r["outcome"] in OK_OUTCOMES for r in rows),
        "abst": _mean(r["abstained"] for r in rows),
    }  # fmt: skip
    return {name: f"{v:.2f}" for name, v in shown.items() if v is not None}


# ---- comparing two runs ---------------------------------------------------------------------

LATENCY_TOLERANCE = 0.10  # relative slow-down before a latency metric counts as a regression
Status = Literal["improved", "regressed", "same", "n/a"]


@dataclass(frozen=True)
class MetricDelta:
    """One metric in two runs."""

    name: str
    a: float | None
    b: float | None
    delta: float | None
    status: Status


@dataclass(frozen=True)
class QuestionChange:
    """A question whose correctness differs between two runs."""

    id: str
    question: str
    question_type: str
    outcome_a: str
    outcome_b: str
    answer_a: str
    answer_b: str
    fixed: bool


@dataclass
class Comparison:
    """Run B against run A: metric deltas, changed questions and config differences."""

    a: Path
    b: Path
    overall: list[MetricDelta]
    by_type: dict[str, list[MetricDelta]]
    changed: list[QuestionChange]
    config_changes: list[tuple[str, Any, Any]]
    only_in_a: list[str]
    only_in_b: list[str]
    run_a: dict[str, Any] = field(default_factory=dict)
    run_b: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[MetricDelta]:
        """Overall metrics that got worse."""
        return [d for d in self.overall if d.status == "regressed"]

    def to_dict(self) -> dict[str, Any]:
        """The ``compare.json`` shape."""
        return {
            "a": str(self.a), "b": str(self.b), "run_a": self.run_a, "run_b": self.run_b,
            "regressions": [d.name for d in self.regressions],
            "overall": [dataclasses.asdict(d) for d in self.overall],
            "by_type": {t: [dataclasses.asdict(d) for d in ds] for t, ds in self.by_type.items()},
            "changed_questions": [dataclasses.asdict(c) for c in self.changed],
            "config_changes": [{"key": key, "a": a, "b": b} for key, a, b in self.config_changes],
            "only_in_a": self.only_in_a, "only_in_b": self.only_in_b, "notes": self.notes,
        }  # fmt: skip


def compare(run_a: str | Path, run_b: str | Path) -> Comparison:
    """Compare run B with run A (the baseline), metric by metric and question by question.

    A quality metric regresses when it is worse at all; a latency metric when it is more
    than ``LATENCY_TOLERANCE`` slower.

    Example:
        >>> cmp = compare("runs/main", "runs/my-branch")
        >>> [d.name for d in cmp.regressions]
        ['hit@1']
    """
    a, b = EvalReport.load(run_a), EvalReport.load(run_b)
    by_id_a = {r["id"]: r for r in a.predictions}
    by_id_b = {r["id"]: r for r in b.predictions}
    changed = []
    for qid in by_id_a.keys() & by_id_b.keys():
        ra, rb = by_id_a[qid], by_id_b[qid]
        ok_a, ok_b = ra["outcome"] in OK_OUTCOMES, rb["outcome"] in OK_OUTCOMES
        if ok_a != ok_b:
            changed.append(QuestionChange(qid, rb["question"], rb["question_type"],
                                          ra["outcome"], rb["outcome"], ra["answer"],
                                          rb["answer"], fixed=ok_b))  # fmt: skip
    order = {r["id"]: i for i, r in enumerate(b.predictions)}
    changed.sort(key=lambda c: (c.fixed, order[c.id]))
    kinds = sorted(a.by_type.keys() | b.by_type.keys())
    only_a, only_b = (
        sorted(by_id_a.keys() - by_id_b.keys()),
        sorted(by_id_b.keys() - by_id_a.keys()),
    )
    notes = []
    if only_a or only_b:
        notes.append(f"the question sets differ ({len(only_a)} only in A, {len(only_b)} only in "
                     "B): the metrics are not like for like")  # fmt: skip
    for key, what in (("mode", "modes"), ("model", "models")):
        va, vb = a.run.get(key), b.run.get(key)
        if va != vb:
            notes.append(f"the {what} differ: {va} vs {vb}")
    if a.run.get("interrupted") or b.run.get("interrupted"):
        notes.append("a run stopped early: it covers only part of its questions")
    return Comparison(
        a=Path(run_a), b=Path(run_b),
        overall=_deltas(a.metrics, b.metrics),
        by_type={t: _deltas(a.by_type.get(t, {}), b.by_type.get(t, {})) for t in kinds},
        changed=changed,
        config_changes=_config_changes(a.config, b.config),
        only_in_a=only_a, only_in_b=only_b, run_a=a.run, run_b=b.run, notes=notes,
    )  # fmt: skip


def _deltas(a: dict[str, Any], b: dict[str, Any]) -> list[MetricDelta]:
    deltas = []
    for name, info in METRICS.items():
        va, vb = a.get(name), b.get(name)
        if va is None or vb is None:
            deltas.append(MetricDelta(name, va, vb, None, "n/a"))
            continue
        delta = round(vb - va, 4)
        better = delta > 0 if info.higher_is_better else delta < 0
        worse = delta < 0 if info.higher_is_better else delta > 0
        if info.unit == "seconds" and worse and abs(delta) <= LATENCY_TOLERANCE * max(va, 1e-9):
            worse = False
        status: Status = "regressed" if worse else "improved" if better and delta else "same"
        deltas.append(MetricDelta(name, va, vb, delta, status))
    return deltas


def _config_changes(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    flat_a, flat_b = _flatten(a), _flatten(b)
    skip = {"store.path"}  # every run has its own store
    keys = sorted((flat_a.keys() | flat_b.keys()) - skip)
    return [(key, flat_a.get(key), flat_b.get(key)) for key in keys
            if flat_a.get(key) != flat_b.get(key)]  # fmt: skip


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# ---- small helpers ----------------------------------------------------------------------------


def _dedupe(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in d.items()}


__all__ = [
    "METRICS",
    "OUTCOMES",
    "Comparison",
    "EvalError",
    "EvalReport",
    "GoldQuestion",
    "GoldSetError",
    "MetricDelta",
    "QuestionChange",
    "compare",
    "contains_answer",
    "evaluate",
    "hit_at_k",
    "load_questions",
    "normalize",
    "parse_choice",
    "reciprocal_rank",
    "score",
    "token_recall",
]
