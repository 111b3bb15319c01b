"""``rag.eval`` without a model: gold set loading and halves, answer matching (strict and
normalised), one prediction's scores and outcome, and the metrics over many.

Every question, answer and article here is made up for the tests.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rag.eval import (
    GoldQuestion,
    GoldSetError,
    Prediction,
    classify,
    contains_answer,
    load_questions,
    matches_normalized,
    normalize,
    parse_choice,
    predict,
    score,
    select,
    split_date,
    token_recall,
)
from rag.eval.gold import EvalError, half_of, withheld
from rag.eval.metrics import first_rank, hit_at_k, recall_at_k, reciprocal_rank
from rag.types import Answer, Citation, Hit, Passage

EVAL = Path(__file__).parent / "data" / "eval"
QUESTIONS = EVAL / "questions.jsonl"


# ---- strict matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.S. Army!", "us army"),
        ("  An   orange a day ", "orange day"),
        ("“Harbour Lights”", "harbour lights"),
        ("state-run TV", "state run tv"),
        ("1,000 people; 1.5%", "1000 people 1.5"),
        ("Theatre", "theatre"),  # only whole-word articles go
        ("Mayor Elena Ruiz.[1]", "mayor elena ruiz"),  # markers never glue onto words
        ("Ruiz,Smith [2, 3]", "ruiz smith"),
        ("Okafor's plan", "okafor plan"),
        ("O'Neill won", "oneill won"),
        ("a.m. in the U.K.", "am in uk"),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_contains_answer() -> None:
    assert contains_answer("It was the Millbrook Otters [1].", ["Millbrook Otters"])
    assert contains_answer("“Harbour Lights” won [1].", ['"Harbour Lights"'])
    assert contains_answer("Some 1,000 came", ["1000"])
    assert not contains_answer("Norwegian officials said", ["Norway"])  # word boundaries
    assert contains_answer("to become Norway's new fisheries minister [1].", ["Norway"])
    assert not contains_answer("anything", [])
    assert not contains_answer("the", ["The"])  # a gold that normalises to nothing
    assert contains_answer("no", ["yes", "no"])  # any of the variants


def test_token_recall() -> None:
    assert token_recall("ferry fares by half", ["Cut ferry fares by at least 50%"]) == (
        pytest.approx(3 / 7)  # cut ferry fares by at least 50
    )
    assert token_recall("Elena Ruiz", ["Mayor Elena Ruiz", "Elena Ruiz"]) == 1.0
    assert token_recall("nothing", ["Elena Ruiz"]) == 0.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("B", 1),
        ("(C) [2].", 2),
        ("**D** [1]", 3),
        ("C. Cleo Park [1]", 2),
        ("The answer is A.", 0),
        ("Cleo Park will open the fair [1].", 2),  # no letter: the option's text
        ("A new law was passed [1].", None),  # the article "A" is not a pick
        ("The articles don't say.", None),
    ],
)
def test_parse_choice(answer: str, expected: int | None) -> None:
    assert parse_choice(answer, ["Ada Lund", "Ben Osei", "Cleo Park", "Dev Rao"]) == expected


# ---- the normalised match ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("The repair cost 4,200,000 dollars [1].", "$4.2 million"),
        ("The repair cost $4.2 million [1].", "4,200,000 dollars"),
        ("It cost $12,600,000 [1].", "$12.6 million"),
        ("They waited twelve days [1].", "12"),
        ("It took 12 days [1].", "twelve"),
        ("a ban of six months [1]", "6"),
        ("about thirty-five thousand people came", "35,000"),
        ("Officials in the U.S. said so [1].", "United States"),
        ("The United States of America agreed.", "U.S."),
        ("The UK and France signed [1].", "United Kingdom"),
        ("Talks with Britain stalled.", "UK"),
        ("Two ferries sank [1].", "ferry"),
        ("The new ferry sails daily.", "ferries"),
        ("Temperatures hit 40.3 degrees Celsius [1].", "40.3C"),
        ("Prices rose ten per cent.", "10%"),
        ("The deal is worth $1.2bn [1].", "1.2 billion dollars"),
        ("Mayor Elena Ruiz [1].", "Elena Ruiz"),  # a strict match is a normalised one
    ],
)
def test_normalized_match_reads_numbers_units_countries_and_plurals(answer: str, gold: str) -> None:
    assert matches_normalized(answer, [gold])


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("It cost $42 million.", "$4.2 million"),  # a different number
        ("after six years", "6 months"),  # a different unit
        ("They told us the plan.", "United States"),  # the pronoun is no country
        ("Farmers in South America", "United States"),
        ("Talks in Ukraine", "UK"),
        ("Norwegian officials", "Norway"),  # an adjective is not the place
        ("about 3,500 people", "35,000"),
        ("A snake was found.", "Burmese python"),  # hypernyms are out of scope
        ("The articles don't say.", ""),
    ],
)
def test_normalized_match_rejects_different_answers(answer: str, gold: str) -> None:
    assert not matches_normalized(answer, [gold])
    assert not contains_answer(answer, [gold])


def test_normalized_match_needs_the_gold_words_besides_its_numbers() -> None:
    assert (
        matches_normalized("6 people were rescued from the ferry", ["6 ferry passengers"]) is False
    )
    assert matches_normalized("the 6 passengers of the ferries", ["6 ferry passengers"])


# ---- the gold set ------------------------------------------------------------------------------


def test_load_questions_names_bad_lines(tmp_path: Path) -> None:
    good = json.loads(QUESTIONS.read_text().splitlines()[0])
    bad = tmp_path / "q.jsonl"
    lines = [
        json.dumps(good),
        json.dumps({k: v for k, v in good.items() if k != "answers"}),
        "{not json",
        json.dumps(good),
        json.dumps({**good, "id": "x", "answerable": "maybe"}),
    ]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(GoldSetError) as info:
        load_questions(bad)
    message = str(info.value)
    assert f"{bad}:2: missing required field 'answers'" in message
    assert f"{bad}:3: invalid JSON" in message
    assert f"{bad}:4: duplicate id 'mb-1' (first on line 1)" in message
    assert f"{bad}:5: field 'answerable'" in message
    assert ":1:" not in message


def test_load_questions_ignores_extra_fields() -> None:
    questions = load_questions(QUESTIONS)
    assert [q.id for q in questions] == [f"mb-{i}" for i in range(1, 8)]
    assert questions[5].answer_docs == set()
    assert questions[2].answer_docs == {"mb-festival", "mb-recap"}


def _question(qid: str, day: str | None) -> GoldQuestion:
    return GoldQuestion(
        id=qid,
        question="Q?",
        answers=["a"],
        evidence_doc_ids=["d"],
        answerable=True,
        question_date=date.fromisoformat(day) if day else None,
    )


def test_halves_split_at_the_median_question_date() -> None:
    questions = load_questions(QUESTIONS)
    cut = split_date(questions)
    assert cut == date(2024, 4, 1)  # 03-05 03-05 03-15 [04-01] 04-25 04-25 05-05
    halves = {q.id: half_of(q, cut) for q in questions}
    assert [i for i, h in halves.items() if h == "tuning"] == ["mb-1", "mb-2", "mb-5", "mb-7"]
    assert [i for i, h in halves.items() if h == "check"] == ["mb-3", "mb-4", "mb-6"]
    # An even count takes the lower median; undated questions go to the check half.
    four = [_question(str(i), f"2024-01-0{i}") for i in range(1, 5)] + [_question("x", None)]
    assert split_date(four) == date(2024, 1, 2)
    assert [half_of(q, date(2024, 1, 2)) for q in four] == ["tuning"] * 2 + ["check"] * 3
    assert split_date([_question("x", None)]) is None and half_of(four[0], None) is None


def test_select_one_half_before_types_and_limit() -> None:
    questions = load_questions(QUESTIONS)
    assert [q.id for q in select(questions, half="check")] == ["mb-3", "mb-4", "mb-6"]
    assert [q.id for q in select(questions, ["numeric"], half="check")] == ["mb-3"]
    assert [q.id for q in select(questions, limit=2, half="tuning")] == ["mb-1", "mb-2"]
    with pytest.raises(EvalError, match="needs dated questions"):
        select([_question("x", None)], half="check")
    # A withheld copy keeps its date, and so its half.
    (copy,) = withheld([questions[2]])
    assert half_of(copy, split_date(questions)) == "check"


# ---- one prediction ----------------------------------------------------------------------------


def _hit(doc_id: str, text: str) -> Hit:
    return Hit(f"{doc_id}:00000", doc_id, f"Title {doc_id}", text, 0, len(text), 1.0)


def test_predict_scores_retrieved_and_read_separately() -> None:
    gold = GoldQuestion(
        id="f1",
        question="How many ferries sail?",
        answers=["12"],
        evidence_doc_ids=["gold"],
        answerable=True,
        question_type="numeric",
        question_date=date(2024, 5, 1),
    )
    gold_hit = _hit("gold", "The port runs 12 ferries.")
    other = _hit("other", "The port opened a cafe.")
    cut_from_context = Answer(
        question=gold.question,
        text="The articles don't say.",
        abstained=True,
        retrieved=[other, gold_hit],
        passages=[Passage(1, other, other.text, 0, 5)],
    )
    p = predict(gold, cut_from_context, half="tuning")
    assert (p.retrieved_doc_ids, p.context_doc_ids) == (["other", "gold"], ["other"])
    assert (p.evidence_retrieved, p.evidence_in_context) == (True, False)
    assert (p.answer_retrieved, p.answer_in_context) == (True, False)
    assert (p.evidence_rank, p.half, p.question_date) == (2, "tuning", "2024-05-01")
    assert p.outcome == "context_miss"  # not the model's error: it never read the article

    read = dataclasses.replace(
        cut_from_context, passages=[Passage(1, gold_hit, gold_hit.text, 0, 20)]
    )
    assert predict(gold, read).outcome == "false_abstention"
    answered = dataclasses.replace(read, text="Twelve ferries sail [1].", abstained=False)
    p = predict(gold, answered)
    assert (p.contains_gold, p.normalized_match, p.outcome) == (False, True, "wrong_answer")
    # Refused before the model ran: nothing was cut from a context.
    gated = dataclasses.replace(cut_from_context, passages=[])
    assert predict(gold, gated).outcome == "false_abstention"


def test_prediction_json_round_trip_and_old_runs() -> None:
    citation = Citation(1, "d", "T", None, date(2024, 1, 2), "q", 0, 1, 0.5, "d:00000", True, 0.9)
    gold = _question("r1", "2024-01-01")
    answer = Answer(question="Q?", text="a [1].", citations=[citation], retrieved=[_hit("d", "a")])
    p = predict(gold, answer)
    line = json.loads(json.dumps(p.to_json()))
    assert line["citations"][0]["published"] == "2024-01-02" and line["citations"][0]["gold"]
    assert Prediction.from_json(line) == p
    old = {
        k: v
        for k, v in line.items()
        if k not in {"context_doc_ids", "evidence_in_context", "normalized_match", "half"}
    }
    loaded = Prediction.from_json({**old, "some_future_key": 1})
    assert loaded.context_doc_ids is None and loaded.evidence_in_context is None
    assert score([loaded])["evidence_in_context"] is None  # not recorded, not 0


# ---- metrics ------------------------------------------------------------------------------------


def test_ranks_hits_and_mrr() -> None:
    ranked = ["a", "b", "c", "d"]
    assert first_rank(ranked, {"c"}) == 3
    assert first_rank(ranked, {"x"}) is None
    assert [hit_at_k(ranked, ["c"], k) for k in (1, 2, 3, 10)] == [False, False, True, True]
    assert reciprocal_rank(ranked, ["d", "b"]) == 0.5  # the first relevant one counts
    assert reciprocal_rank(ranked, ["x"]) == 0.0
    assert recall_at_k(ranked, ["a", "d", "x"], 2) == pytest.approx(1 / 3)


def _pred(**fields: Any) -> Prediction:
    base: dict[str, Any] = {
        "question": "Q?",
        "question_type": "factoid",
        "answerable": True,
        "answer": "",
        "abstained": False,
        "evidence_doc_ids": ["g"],
    }
    p = Prediction(**(base | fields))
    p = dataclasses.replace(p, evidence_retrieved=bool(p.answer_docs & set(p.retrieved_doc_ids)))
    if p.context_doc_ids is not None:
        p = dataclasses.replace(p, evidence_in_context=bool(p.answer_docs & set(p.context_doc_ids)))
    return dataclasses.replace(p, outcome=classify(p))


def test_score_abstention_accounting_and_outcomes() -> None:
    rows = [
        _pred(id="u1", answerable=False, evidence_doc_ids=[], abstained=True, correct=True),
        _pred(id="u2", answerable=False, evidence_doc_ids=[], abstained=False),
        _pred(id="a1", retrieved_doc_ids=["g"], correct=True, contains_gold=True),
        _pred(id="a2", retrieved_doc_ids=["g"], abstained=True, contains_gold=False),
        _pred(id="a3", retrieved_doc_ids=["x"], abstained=True, contains_gold=False),
        _pred(id="a4", retrieved_doc_ids=["g"], context_doc_ids=["g"], contains_gold=False),
        _pred(id="a5", retrieved_doc_ids=["x", "g"], context_doc_ids=["x"], contains_gold=False),
    ]
    assert [r.outcome for r in rows] == [
        "correct_abstention",
        "answered_unanswerable",
        "correct",
        "false_abstention",
        "retrieval_miss",
        "wrong_answer",
        "context_miss",
    ]
    m = score(rows)
    assert m["abstention_unanswerable"] == 0.5
    assert m["false_abstention"] == pytest.approx(2 / 5)  # a2 and a3 of the five answerable
    assert m["contains_gold"] == 0.2
    assert m["accuracy"] == pytest.approx(2 / 7, abs=1e-4)
    assert (m["n"], m["n_answerable"], m["n_unanswerable"]) == (7, 5, 2)
    assert m["evidence_retrieved"] == pytest.approx(4 / 5)
    assert (m["evidence_in_context"], m["n_context"]) == (0.5, 2)  # recorded for a4, a5 only
    assert m["hit@1"] == 0.0  # ranked_doc_ids is empty: nothing was ranked
    assert m["choice_accuracy"] is None  # not a choice run


def test_score_retrieval_and_citations() -> None:
    cite = [{"supported": True}, {"supported": False}, {"supported": None}]
    rows = [
        _pred(id="a", ranked_doc_ids=["g", "x"], cited_doc_ids=["g", "x"], citations=cite),
        _pred(
            id="b",
            ranked_doc_ids=["x", "y", "l"],
            answer_string_found_in_docs=["l"],
            cited_doc_ids=["l"],
        ),
        _pred(
            id="c", ranked_doc_ids=["x"], answerable=False, evidence_doc_ids=[], cited_doc_ids=["x"]
        ),  # unanswerable: not in retrieval or citation precision
    ]
    m = score(rows)
    assert (m["hit@1"], m["hit@3"], m["mrr"]) == (0.5, 0.5, 0.5)
    assert (m["lenient_hit@1"], m["lenient_hit@3"]) == (0.5, 1.0)
    assert m["lenient_mrr"] == pytest.approx((1 + 1 / 3) / 2, abs=1e-4)
    assert m["citation_precision"] == pytest.approx(2 / 3, abs=1e-4)  # g, x | l
    assert m["all_citations_gold"] == 0.5
    assert m["citations_supported"] == 0.5  # None means "not checked"
    assert m["n_checked_citations"] == 2
