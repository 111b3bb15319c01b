"""``rag eval``: scoring functions, an end-to-end run with a reading fake model, compare, CLI.

The fixture gold set in ``tests/data/eval/`` is six made-up articles about a fictional town
and seven questions: mb-1..mb-4 answerable (mb-3 and mb-4 are also answered by the
``mb-recap`` article), mb-5 is answered wrongly by the scripted model, mb-6 is unanswerable,
and mb-7 is asked on 2024-04-01, before its article (2024-04-12) was published, so it is a
retrieval miss. ``mb-budget``'s title carries a ``<script>`` tag to check report escaping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from rag import embed
from rag.assistant import Assistant
from rag.cli import cli
from rag.config import Settings, StoreSettings
from rag.evaluate import (
    METRICS,
    OUTCOMES,
    EvalError,
    EvalReport,
    GoldSetError,
    classify,
    compare,
    contains_answer,
    evaluate,
    first_rank,
    hit_at_k,
    load_questions,
    normalize,
    parse_choice,
    recall_at_k,
    reciprocal_rank,
    score,
    token_recall,
)

EVAL = Path(__file__).parent / "data" / "eval"
QUESTIONS = EVAL / "questions.jsonl"
CORPUS = EVAL / "corpus.jsonl"
DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"

# What the reading model looks for in the passages, by a phrase of the question. mb-5's
# "answer" is in its article but wrong; mb-6 (unanswerable) and mb-7 have no entry.
SCRIPT = {
    "cut the ribbon": "Mayor Elena Ruiz",
    "repair of the Harbor Bridge": "$48 million",
    "lantern festival": "35,000",
    "regatta": "Tri-County Regatta",
    "council's vote": "$4.2 million",
    "head coach": "Dana Okafor",
}
PREDICTION_FIELDS = {
    "id", "question", "answer", "abstained", "abstain_reason", "retrieved_doc_ids",
    "cited_doc_ids", "citations", "latency_s", "ttft_s", "answers", "evidence_doc_ids",
    "question_type", "correct", "contains_gold", "outcome", "ranked_doc_ids",
}  # fmt: skip


class ReadingModel(BaseChatModel):
    """A fake chat model that answers from the prompt, so question order does not matter.

    Open questions: if the scripted answer for the question occurs in a passage, say it and
    cite that passage; else refuse. Choice questions: pick the first option found in a passage.
    """

    script: dict[str, str] = {}

    @property
    def _llm_type(self) -> str:
        return "reading-fake"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        prompt = str(messages[-1].content)
        passages = re.findall(r"^\[(\d+)\] (.*)$", prompt, re.M)
        question = prompt.rsplit("Question:", 1)[-1]
        reply = "The articles don't say."
        options = re.findall(r"\(([A-J])\) (.+?)(?=; \([A-J]\) |\. Reply with)", question)
        wanted = [(f"({letter}) {text}", text) for letter, text in options] or [
            (answer, answer) for key, answer in self.script.items() if key in question
        ]
        found = [(say, n) for say, text in wanted for n, body in passages if text in body]
        if found:
            reply = f"{found[0][0]} [{found[0][1]}]."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


class ExplodingModel(ReadingModel):
    """The reading model, but raising ``boom`` on questions that contain ``trigger``."""

    trigger: str = ""
    boom: type[BaseException] = ValueError

    def _generate(self, messages: list[BaseMessage], *args: Any, **kw: Any) -> ChatResult:
        if self.trigger in str(messages[-1].content).rsplit("Question:", 1)[-1]:
            raise self.boom("the model fell over")
        return super()._generate(messages, *args, **kw)


@pytest.fixture
def make_assistant(tmp_path: Path, embedder: embed.Embedder) -> Callable[..., Assistant]:
    def make(store: str = "user-store", **overrides: Any) -> Assistant:
        settings = Settings(store=StoreSettings(path=tmp_path / store)).with_overrides(**overrides)
        return Assistant(settings, llm=ReadingModel(script=SCRIPT), embedder=embedder)

    return make


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---- scoring functions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.S. Army!", "us army"),
        ("  An   apple a day ", "apple day"),
        ("“Succession”", "succession"),
        ("state-run TV", "state run tv"),
        ("1,000 people; 1.5%", "1000 people 1.5"),
        ("Theatre", "theatre"),  # only whole-word articles go
        ("Mayor Elena Ruiz.[1]", "mayor elena ruiz"),  # markers never glue onto words
        ("Ruiz,Smith [2, 3]", "ruiz smith"),
        ("Biden's plan", "biden plan"),
        ("O'Neill won", "oneill won"),
        ("a.m. in the U.K.", "am in uk"),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_contains_answer() -> None:
    assert contains_answer("It was the Buffalo Bills [1].", ["Buffalo Bills"])
    assert contains_answer("“Succession” won [1].", ['"Succession"'])
    assert contains_answer("Some 1,000 came", ["1000"])
    assert not contains_answer("Iranian officials said", ["Iran"])  # word boundaries
    assert contains_answer("to become Italy's new prime minister [1].", ["Italy"])  # possessive
    assert not contains_answer("anything", [])
    assert not contains_answer("the", ["The"])  # a gold that normalises to nothing
    assert contains_answer("no", ["yes", "no"])  # any of the variants


def test_token_recall() -> None:
    assert token_recall("cancer deaths by half", ["Reduce US cancer deaths by at least 50%"]) == (
        pytest.approx(3 / 8)  # reduce us cancer deaths by at least 50
    )
    assert token_recall("Elena Ruiz", ["Mayor Elena Ruiz", "Elena Ruiz"]) == 1.0
    assert token_recall("nothing", ["Elena Ruiz"]) == 0.0


def test_ranks_hits_and_mrr() -> None:
    ranked = ["a", "b", "c", "d"]
    assert first_rank(ranked, {"c"}) == 3
    assert first_rank(ranked, {"x"}) is None
    assert [hit_at_k(ranked, ["c"], k) for k in (1, 2, 3, 10)] == [False, False, True, True]
    assert reciprocal_rank(ranked, ["d", "b"]) == 0.5  # the first relevant one counts
    assert reciprocal_rank(ranked, ["x"]) == 0.0
    assert recall_at_k(ranked, ["a", "d", "x"], 2) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("B", 1),
        ("(C) [2].", 2),
        ("**D** [1]", 3),
        ("C. Rihanna [1]", 2),
        ("The answer is A.", 0),
        ("Rihanna will headline the show [1].", 2),  # no letter: the option's text
        ("A new law was passed [1].", None),  # the article "A" is not a pick
        ("The articles don't say.", None),
    ],
)
def test_parse_choice(answer: str, expected: int | None) -> None:
    assert parse_choice(answer, ["Adele", "Drake", "Rihanna", "Justin Bieber"]) == expected


def _row(**fields: Any) -> dict[str, Any]:
    row = {
        "id": fields.pop("id"), "question_type": "factoid", "answerable": True,
        "abstained": False, "evidence_doc_ids": ["g"], "answer_string_found_in_docs": [],
        "ranked_doc_ids": [], "retrieved_doc_ids": [], "cited_doc_ids": [], "citations": [],
        "contains_gold": None, "token_recall": None, "choice_correct": None,
        "latency_s": 1.0, "ttft_s": None, "error": None, "correct": False,
    }  # fmt: skip
    row.update(fields)
    row["evidence_retrieved"] = bool(
        (set(row["evidence_doc_ids"]) | set(row["answer_string_found_in_docs"]))
        & set(row["retrieved_doc_ids"])
    )
    row["outcome"] = classify(row)
    return row


def test_score_abstention_accounting_and_outcomes() -> None:
    rows = [
        _row(id="u1", answerable=False, evidence_doc_ids=[], abstained=True, correct=True),
        _row(id="u2", answerable=False, evidence_doc_ids=[], abstained=False),
        _row(id="a1", retrieved_doc_ids=["g"], correct=True, contains_gold=True),
        _row(id="a2", retrieved_doc_ids=["g"], abstained=True, contains_gold=False),
        _row(id="a3", retrieved_doc_ids=["x"], abstained=True, contains_gold=False),
        _row(id="a4", retrieved_doc_ids=["g"], contains_gold=False),
    ]
    assert [r["outcome"] for r in rows] == [
        "correct_abstention", "answered_unanswerable", "correct", "false_abstention",
        "retrieval_miss", "wrong_answer",
    ]  # fmt: skip
    m = score(rows)
    assert m["abstention_unanswerable"] == 0.5
    assert m["false_abstention"] == 0.5  # a2 and a3 of the four answerable
    assert m["contains_gold"] == 0.25
    assert m["accuracy"] == pytest.approx(2 / 6, abs=1e-4)
    assert (m["n"], m["n_answerable"], m["n_unanswerable"]) == (6, 4, 2)
    assert m["hit@1"] == 0.0  # ranked_doc_ids is empty: nothing was ranked
    assert m["choice_accuracy"] is None  # not a choice run


def test_score_retrieval_and_citations() -> None:
    cite = [{"supported": True}, {"supported": False}, {"supported": None}]
    rows = [
        _row(id="a", ranked_doc_ids=["g", "x"], cited_doc_ids=["g", "x"], citations=cite),
        _row(id="b", ranked_doc_ids=["x", "y", "l"], answer_string_found_in_docs=["l"],
             cited_doc_ids=["l"]),
        _row(id="c", ranked_doc_ids=["x"], answerable=False, evidence_doc_ids=[],
             cited_doc_ids=["x"]),  # unanswerable: not in retrieval or citation precision
    ]  # fmt: skip
    m = score(rows)
    assert (m["hit@1"], m["hit@3"], m["mrr"]) == (0.5, 0.5, 0.5)
    assert (m["lenient_hit@1"], m["lenient_hit@3"]) == (0.5, 1.0)
    assert m["lenient_mrr"] == pytest.approx((1 + 1 / 3) / 2, abs=1e-4)
    assert m["citation_precision"] == pytest.approx(2 / 3, abs=1e-4)  # g, x | l
    assert m["all_citations_gold"] == 0.5
    assert m["citations_supported"] == 0.5  # None means "not checked"
    assert m["n_checked_citations"] == 2


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


# ---- end to end with the reading model ------------------------------------------------------


def test_evaluate_end_to_end(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant()
    out = tmp_path / "run"
    report = evaluate(assistant, QUESTIONS, corpus=CORPUS, out=out)

    # The corpus went into a fresh store under the run folder, never the user's store.
    assert not (tmp_path / "user-store").exists()
    assert (out / "store").is_dir()
    assert report.ingest is not None and report.ingest["articles"] == 6

    rows = _lines(out / "predictions.jsonl")
    assert [r["id"] for r in rows] == [f"mb-{i}" for i in range(1, 8)]
    for row in rows:
        assert PREDICTION_FIELDS <= row.keys()
        assert row["retrieved_doc_ids"] == list(dict.fromkeys(row["retrieved_doc_ids"]))
        for c in row["citations"]:
            assert {"quote", "supported", "support", "doc_id", "gold"} <= c.keys()
    by_id = {r["id"]: r for r in rows}
    assert {i: r["outcome"] for i, r in by_id.items()} == {
        "mb-1": "correct", "mb-2": "correct", "mb-3": "correct", "mb-4": "correct",
        "mb-5": "wrong_answer", "mb-6": "correct_abstention", "mb-7": "retrieval_miss",
    }  # fmt: skip
    assert "Mayor Elena Ruiz" in by_id["mb-1"]["answer"]
    assert by_id["mb-1"]["cited_doc_ids"] == ["mb-bridge"]
    assert by_id["mb-1"]["ttft_s"] is not None and by_id["mb-1"]["latency_s"] is not None
    # mb-7 was asked before its article existed: no article published later is retrieved.
    assert "mb-rowing" not in by_id["mb-7"]["ranked_doc_ids"]
    assert set(by_id["mb-7"]["ranked_doc_ids"]) <= {"mb-bridge", "mb-budget"}
    assert by_id["mb-7"]["abstained"] and by_id["mb-7"]["abstain_reason"]

    data = json.loads((out / "metrics.json").read_text())
    assert data == json.loads(json.dumps(report.to_dict()))
    overall = data["overall"]
    assert METRICS.keys() <= overall.keys()
    assert overall["hit@10"] == pytest.approx(5 / 6, abs=1e-4)  # all but mb-7
    assert overall["contains_gold"] == pytest.approx(4 / 6, abs=1e-4)
    assert overall["abstention_unanswerable"] == 1.0
    assert overall["false_abstention"] == pytest.approx(1 / 6, abs=1e-4)
    assert overall["accuracy"] == pytest.approx(5 / 7, abs=1e-4)
    assert overall["citation_precision"] is not None and overall["latency_p50_s"] is not None
    assert overall["choice_accuracy"] is None
    assert set(data["by_type"]) == {"factoid", "numeric", "unanswerable"}
    assert data["by_type"]["numeric"]["contains_gold"] == 1.0
    assert data["by_type"]["unanswerable"]["hit@5"] is None
    assert data["outcomes"]["all"] == {**dict.fromkeys(OUTCOMES, 0), "correct": 4,
                                       "wrong_answer": 1, "correct_abstention": 1,
                                       "retrieval_miss": 1}  # fmt: skip
    assert data["run"]["k"] == data["config"]["retrieve"]["k"] == Settings().retrieve.k
    assert data["config"]["store"]["path"] == str(out / "store")
    assert {"python", "newsqa", "chromadb"} <= data["versions"].keys()
    assert data["ingest"]["seconds"] >= 0 and data["run"]["completed"] == 7

    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    for text in (md, page):
        assert "Headline" in text and "Worst failures" in text
        assert "<script>" not in text  # mb-budget's title is shown, escaped
        assert "mb-5" in text and "mb-7" in text  # both failures are shown
        assert "mb-1" not in text.split("Worst failures")[1].split("Config")[0]
    assert "&lt;script&gt;" in page and "&lt;script&gt;" in md
    assert page.count('src="data:image/png;base64,') == 4  # figures are embedded
    assert "http" not in re.sub(r"https://example\.org\S*", "", page)  # nothing to fetch
    assert (out / "figures" / "hit_at_k.png").read_bytes()[:4] == b"\x89PNG"
    assert "](figures/by_type.png)" in md


def test_evaluate_choice_mode(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    # A budget with room for the bridge article's second sentence, which names Elena Ruiz.
    assistant = make_assistant(answer={"context_tokens": 400})
    report = evaluate(assistant, QUESTIONS, corpus=CORPUS, out=tmp_path / "c",
                      mode="choice", types=["factoid", "unanswerable"])  # fmt: skip
    by_id = {r["id"]: r for r in report.predictions}
    assert set(by_id) == {"mb-1", "mb-4", "mb-5", "mb-6", "mb-7"}
    assert "Options: (A) Sam Whitfield; (B) Elena Ruiz" in by_id["mb-1"]["asked"]
    assert by_id["mb-1"]["choice_index"] == 1 and by_id["mb-1"]["choice_correct"]
    assert by_id["mb-5"]["choice_correct"]  # the reading model finds "7-2" among the options
    assert by_id["mb-6"]["outcome"] == "correct_abstention"
    assert by_id["mb-7"]["choice_index"] == 1  # "Elena Ruiz" is in the only passage it saw
    assert by_id["mb-7"]["choice_correct"] is False
    answerable = [r for r in report.predictions if r["answerable"]]
    expected = sum(r["choice_correct"] for r in answerable) / len(answerable)
    assert report.metrics["choice_accuracy"] == pytest.approx(expected, abs=1e-4)
    assert report.metrics["contains_gold"] is None


def test_evaluate_against_existing_store_with_limit(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    with pytest.raises(EvalError, match="store is empty"):
        evaluate(assistant, QUESTIONS)
    assistant.ingest([CORPUS])
    report = evaluate(assistant, QUESTIONS, limit=2, k=2)
    assert [r["id"] for r in report.predictions] == ["mb-1", "mb-2"]
    assert report.out is None and report.ingest is None and report.run["k"] == 2
    assert all(len(r["retrieved_doc_ids"]) <= 2 for r in report.predictions)


def test_withheld_gold_asks_answerable_questions_without_their_articles(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    gold = load_questions(QUESTIONS)
    report = evaluate(make_assistant(), gold, corpus=CORPUS, out=tmp_path / "w",
                      withhold_gold=True)  # fmt: skip
    answerable = {q.id: q for q in gold if q.answerable}
    assert [r["id"] for r in report.predictions] == [f"{i}~withheld" for i in answerable]
    for row in report.predictions:
        withheld = answerable[row["id"].removesuffix("~withheld")].answer_docs
        assert not row["answerable"] and row["question_type"] == "withheld"
        assert not withheld & set(row["retrieved_doc_ids"]), row  # never retrieved
        assert not withheld & set(row["cited_doc_ids"])
        assert row["outcome"] in {"correct_abstention", "answered_unanswerable"}
    assert report.run["withhold_gold"] is True
    assert report.metrics["abstention_unanswerable"] is not None


def test_out_folder_is_not_overwritten_by_accident(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    assistant.ingest([CORPUS])
    out = tmp_path / "run"
    evaluate(assistant, QUESTIONS, out=out, limit=1)
    with pytest.raises(EvalError, match="already holds a run"):
        evaluate(assistant, QUESTIONS, out=out, limit=1)
    report = evaluate(assistant, QUESTIONS, out=out, limit=2, overwrite=True)
    assert len(_lines(out / "predictions.jsonl")) == 2 == report.metrics["n"]
    with pytest.raises(EvalError, match="unknown question type"):
        evaluate(assistant, QUESTIONS, out=tmp_path / "x", types=["nope"])
    with pytest.raises(EvalError, match="give out"):
        evaluate(assistant, QUESTIONS, corpus=CORPUS)


def test_overwrite_deletes_only_an_eval_store(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    # A folder that merely contains a "store" is not a run: its store is never deleted.
    folder = tmp_path / "data"
    (folder / "store").mkdir(parents=True)
    with pytest.raises(EvalError, match="refusing to delete"):
        evaluate(make_assistant(), QUESTIONS, corpus=CORPUS, out=folder, overwrite=True)
    assert (folder / "store").is_dir()
    # Nor is the assistant's own store, even inside a run folder.
    assistant = make_assistant(store="run/store")
    (tmp_path / "run" / "store").mkdir(parents=True)
    (tmp_path / "run" / "predictions.jsonl").write_text("")
    with pytest.raises(EvalError, match="refusing to delete"):
        evaluate(assistant, QUESTIONS, out=tmp_path / "run", overwrite=True)


def test_a_failing_question_is_recorded_and_the_run_goes_on(
    embedder: embed.Embedder, tmp_path: Path
) -> None:
    llm = ExplodingModel(script=SCRIPT, trigger="lantern")
    assistant = Assistant(Settings(store=StoreSettings(path=tmp_path / "s")), llm=llm,
                          embedder=embedder)  # fmt: skip
    report = evaluate(assistant, QUESTIONS, corpus=CORPUS, out=tmp_path / "run", limit=4)
    by_id = {r["id"]: r for r in report.predictions}
    assert by_id["mb-3"]["outcome"] == "error"
    assert by_id["mb-3"]["error"] == "ValueError: the model fell over"
    assert by_id["mb-4"]["outcome"] == "correct" and report.metrics["errors"] == 1


def test_interrupted_run_keeps_what_was_done(embedder: embed.Embedder, tmp_path: Path) -> None:
    llm = ExplodingModel(script=SCRIPT, trigger="lantern", boom=KeyboardInterrupt)
    assistant = Assistant(Settings(store=StoreSettings(path=tmp_path / "s")), llm=llm,
                          embedder=embedder)  # fmt: skip
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        evaluate(assistant, QUESTIONS, corpus=CORPUS, out=out)
    assert [r["id"] for r in _lines(out / "predictions.jsonl")] == ["mb-1", "mb-2"]
    run = json.loads((out / "metrics.json").read_text())["run"]
    assert run["interrupted"] and run["stopped_by"] == "KeyboardInterrupt"
    assert (run["completed"], run["n_questions"]) == (2, 7)
    assert "STOPPED EARLY" in (out / "report.html").read_text()


def test_compare_flags_regressions_and_changed_questions(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    evaluate(make_assistant(), QUESTIONS, corpus=CORPUS, out=tmp_path / "a", limit=3)
    worse = make_assistant()
    worse.llm.script = {**SCRIPT, "cut the ribbon": "a crowd of commuters"}  # type: ignore[attr-defined]
    evaluate(worse, QUESTIONS, corpus=CORPUS, out=tmp_path / "b", limit=3)

    result = compare(tmp_path / "a", tmp_path / "b")
    assert [(c.id, c.outcome_a, c.outcome_b, c.fixed) for c in result.changed] == [
        ("mb-1", "correct", "wrong_answer", False)
    ]
    regressed = {d.name for d in result.regressions}
    assert {"accuracy", "contains_gold"} <= regressed
    assert not {"hit@1", "hit@10", "mrr"} & regressed  # retrieval did not change
    assert result.config_changes == [] and result.notes == []

    runner = CliRunner()
    res = runner.invoke(cli, ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"),
                              "--fail-on-regression"])  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "regressed" in res.output and "mb-1" in res.output
    saved = json.loads((tmp_path / "b" / "compare.json").read_text())
    assert "accuracy" in saved["regressions"]
    assert saved["changed_questions"][0]["id"] == "mb-1"
    assert (tmp_path / "b" / "compare.md").read_text().startswith("# Compare")


def test_cli_eval_run_and_report(
    make_assistant: Callable[..., Assistant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_assistant()
    monkeypatch.setattr(Assistant, "from_config", classmethod(lambda cls, *a, **kw: made))
    out = tmp_path / "run"
    args = ["eval", "--questions", str(QUESTIONS), "--corpus", str(CORPUS), "--out", str(out),
            "--types", "numeric,unanswerable", "--limit", "2"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "hit@5" in res.output and "report.html" in res.output
    assert [r["id"] for r in _lines(out / "predictions.jsonl")] == ["mb-2", "mb-3"]

    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0 and "already holds a run" in res.output

    (out / "report.html").unlink()
    res = CliRunner().invoke(cli, ["eval", "report", str(out)])
    assert res.exit_code == 0 and (out / "report.html").exists()
    assert EvalReport.load(out).metrics["n"] == 2


def test_cli_eval_errors() -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["eval"])
    assert res.exit_code == 2 and "--questions" in res.output
    res = runner.invoke(cli, ["eval", "--questions", "missing.jsonl", "--out", "x"])
    assert res.exit_code == 1 and "file not found: missing.jsonl" in res.output
    for command in (
        ["eval", "--help"],
        ["eval", "compare", "--help"],
        ["eval", "report", "--help"],
    ):
        res = runner.invoke(cli, command)
        assert res.exit_code == 0 and res.output.strip()


# ---- the real models on a few dev questions --------------------------------------------------


@pytest.mark.integration
@pytest.mark.skipif(not DEV.is_dir(), reason="needs ../shared/eval/dev")
def test_real_models_smoke_eval(tmp_path: Path) -> None:
    """Three dev questions (two answerable, one unanswerable) over a small slice of the corpus.

    The slice (their gold and answer-bearing articles plus 20 others) is written to tmp_path:
    the dev files are never copied into the repository.
    """
    questions = {q["id"]: q for q in _lines(DEV / "questions.jsonl")}
    picked = [questions[i] for i in ("dev-20220930_4", "dev-20220916_2", "dev-20230106_13")]
    corpus = _lines(DEV / "corpus.jsonl")
    wanted = {d for q in picked for d in q["evidence_doc_ids"] + q.get(
        "answer_string_found_in_docs", [])}  # fmt: skip
    chosen = [d for d in corpus if d["doc_id"] in wanted] + [
        d for d in corpus if d["doc_id"] not in wanted
    ][:20]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in picked))
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(d) + "\n" for d in chosen))

    out = tmp_path / "run"
    args = ["eval", "--questions", str(tmp_path / "q.jsonl"), "--corpus", str(tmp_path / "c.jsonl"),
            "--out", str(out), "--json"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["run"]["completed"] == 3
    assert data["overall"]["lenient_hit@10"] == 1.0
    assert data["overall"]["latency_p50_s"] > 0
    rows = {r["id"]: r for r in _lines(out / "predictions.jsonl")}
    assert rows["dev-20220930_4"]["correct"]  # Rihanna, stated plainly in its article
    for name in ("report.md", "report.html", "metrics.json"):
        assert (out / name).stat().st_size > 0
