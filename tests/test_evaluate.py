"""``rag eval`` end to end with a reading fake model: runs, halves, reports, compare, CLI.

Scoring without a model is in ``test_eval_score.py``.

The fixture gold set in ``tests/data/eval/`` is six made-up articles about a fictional town
and seven questions: mb-1..mb-4 answerable (mb-3 and mb-4 are also answered by the
``mb-recap`` article), mb-5 is answered wrongly by the scripted model, mb-6 is unanswerable,
and mb-7 is asked on 2024-04-01, before its article (2024-04-12) was published, so it is a
retrieval miss. ``mb-budget``'s title carries a ``<script>`` tag to check report escaping.
By date, mb-1, mb-2, mb-5 and mb-7 are the tuning half, mb-3, mb-4 and mb-6 the check half.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

import rag.retrieve
from rag import embed
from rag.assistant import Assistant
from rag.cli import cli
from rag.config import Settings, StoreSettings
from rag.eval import METRICS, OUTCOMES, EvalError, EvalReport, compare, evaluate, load_questions
from rag.eval.report import write

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
    "id",
    "question",
    "answer",
    "abstained",
    "abstain_reason",
    "retrieved_doc_ids",
    "cited_doc_ids",
    "citations",
    "latency_s",
    "ttft_s",
    "answers",
    "evidence_doc_ids",
    "question_type",
    "correct",
    "contains_gold",
    "outcome",
    "ranked_doc_ids",
}


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
        "mb-1": "correct",
        "mb-2": "correct",
        "mb-3": "correct",
        "mb-4": "correct",
        "mb-5": "wrong_answer",
        "mb-6": "correct_abstention",
        "mb-7": "retrieval_miss",
    }
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
    assert data["outcomes"]["all"] == {
        **dict.fromkeys(OUTCOMES, 0),
        "correct": 4,
        "wrong_answer": 1,
        "correct_abstention": 1,
        "retrieval_miss": 1,
    }
    assert data["run"]["k"] == data["config"]["retrieve"]["k"] == Settings().retrieve.k
    assert data["config"]["store"]["path"] == str(out / "store")
    assert {"python", "newsqa", "chromadb"} <= data["versions"].keys()
    assert data["ingest"]["seconds"] >= 0 and data["run"]["completed"] == 7
    # What the model read, beside what was retrieved: mb-1's gold article and answer were in
    # its passages; mb-7's article was never retrieved (published later).
    assert by_id["mb-1"]["context_doc_ids"][0] == "mb-bridge"
    assert by_id["mb-1"]["evidence_in_context"] and by_id["mb-1"]["answer_in_context"]
    assert not by_id["mb-7"]["evidence_retrieved"] and not by_id["mb-7"]["answer_retrieved"]
    assert overall["evidence_retrieved"] == pytest.approx(5 / 6, abs=1e-4)
    assert overall["evidence_in_context"] is not None and overall["answer_in_context"] is not None
    assert overall["normalized_match"] >= overall["contains_gold"]
    # Every metric on both halves of the gold set, split at its median question date.
    assert data["run"]["halves"]["split_date"] == "2024-04-01"
    assert (data["run"]["halves"]["tuning"], data["run"]["halves"]["check"]) == (4, 3)
    assert {p["id"]: p["half"] for p in rows}["mb-3"] == "check"
    tuning, check = data["by_half"]["tuning"], data["by_half"]["check"]
    assert (tuning["n"], check["n"]) == (4, 3)
    assert METRICS.keys() <= tuning.keys() and METRICS.keys() <= check.keys()
    assert tuning["accuracy"] == pytest.approx(2 / 4) and check["accuracy"] == 1.0

    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    for text in (md, page):
        assert "Headline" in text and "Worst failures" in text
        assert "<script>" not in text  # mb-budget's title is shown, escaped
        assert "mb-5" in text and "mb-7" in text  # both failures are shown
        assert "mb-1" not in text.split("Worst failures")[1].split("Config")[0]
        assert "By half" in text and "split date 2024-04-01" in text
        assert "gold in the model&#x27;s context" in text or "gold in the model's context" in text
    assert "&lt;script&gt;" in page and "&lt;script&gt;" in md
    assert page.count('src="data:image/png;base64,') == 4  # figures are embedded
    assert "http" not in re.sub(r"https://example\.org\S*", "", page)  # nothing to fetch
    assert (out / "figures" / "hit_at_k.png").read_bytes()[:4] == b"\x89PNG"
    assert "](figures/by_type.png)" in md


def test_evaluate_choice_mode(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    # A budget with room for the bridge article's second sentence, which names Elena Ruiz.
    assistant = make_assistant(answer={"context_tokens": 400})
    report = evaluate(
        assistant,
        QUESTIONS,
        corpus=CORPUS,
        out=tmp_path / "c",
        mode="choice",
        types=["factoid", "unanswerable"],
    )
    by_id = {p.id: p for p in report.predictions}
    assert set(by_id) == {"mb-1", "mb-4", "mb-5", "mb-6", "mb-7"}
    assert "Options: (A) Sam Whitfield; (B) Elena Ruiz" in by_id["mb-1"].asked
    assert by_id["mb-1"].choice_index == 1 and by_id["mb-1"].choice_correct
    assert by_id["mb-5"].choice_correct  # the reading model finds "7-2" among the options
    assert by_id["mb-6"].outcome == "correct_abstention"
    assert by_id["mb-7"].choice_index == 1  # "Elena Ruiz" is in the only passage it saw
    assert by_id["mb-7"].choice_correct is False
    answerable = [r for r in report.predictions if r.answerable]
    expected = sum(r.choice_correct for r in answerable) / len(answerable)
    assert report.metrics["choice_accuracy"] == pytest.approx(expected, abs=1e-4)
    assert report.metrics["contains_gold"] is None
    # Choice-mode metrics are reported by half too (mb-4 and mb-6 are the check half).
    assert report.by_half["check"]["n"] == 2 and report.by_half["tuning"]["n"] == 3
    assert report.by_half["check"]["choice_accuracy"] == 1.0  # mb-4
    saved = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert (
        saved["by_half"]["tuning"]["choice_accuracy"] == report.by_half["tuning"]["choice_accuracy"]
    )


def test_evaluate_against_existing_store_with_limit(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    with pytest.raises(EvalError, match="store is empty"):
        evaluate(assistant, QUESTIONS)
    assistant.ingest([CORPUS])
    report = evaluate(assistant, QUESTIONS, limit=2, k=2)
    assert [r.id for r in report.predictions] == ["mb-1", "mb-2"]
    assert report.out is None and report.ingest is None and report.run["k"] == 2
    assert all(len(r.retrieved_doc_ids) <= 2 for r in report.predictions)


def test_withheld_gold_asks_answerable_questions_without_their_articles(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    gold = load_questions(QUESTIONS)
    report = evaluate(make_assistant(), gold, corpus=CORPUS, out=tmp_path / "w", withhold_gold=True)
    answerable = {q.id: q for q in gold if q.answerable}
    assert [r.id for r in report.predictions] == [f"{i}~withheld" for i in answerable]
    for p in report.predictions:
        withheld = answerable[p.id.removesuffix("~withheld")].answer_docs
        assert not p.answerable and p.question_type == "withheld"
        assert not withheld & set(p.retrieved_doc_ids), p  # never retrieved
        assert not withheld & set(p.cited_doc_ids)
        assert p.outcome in {"correct_abstention", "answered_unanswerable"}
    # Each copy is in its question's half: the halves come from the whole gold set.
    assert {p.id: p.half for p in report.predictions}["mb-3~withheld"] == "check"
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
    assistant = Assistant(
        Settings(store=StoreSettings(path=tmp_path / "s")), llm=llm, embedder=embedder
    )
    report = evaluate(assistant, QUESTIONS, corpus=CORPUS, out=tmp_path / "run", limit=4)
    by_id = {p.id: p for p in report.predictions}
    assert by_id["mb-3"].outcome == "error"
    assert by_id["mb-3"].error == "ValueError: the model fell over"
    assert by_id["mb-4"].outcome == "correct" and report.metrics["errors"] == 1


def test_interrupted_run_keeps_what_was_done(embedder: embed.Embedder, tmp_path: Path) -> None:
    llm = ExplodingModel(script=SCRIPT, trigger="lantern", boom=KeyboardInterrupt)
    assistant = Assistant(
        Settings(store=StoreSettings(path=tmp_path / "s")), llm=llm, embedder=embedder
    )
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
    worse.llm.script = {**SCRIPT, "cut the ribbon": "the Millbrook River"}  # type: ignore[attr-defined]
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
    res = runner.invoke(
        cli, ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression"]
    )
    assert res.exit_code == 1, res.output
    assert "regressed" in res.output and "mb-1" in res.output
    saved = json.loads((tmp_path / "b" / "compare.json").read_text())
    assert "accuracy" in saved["regressions"]
    assert saved["changed_questions"][0]["id"] == "mb-1"
    assert (tmp_path / "b" / "compare.md").read_text().startswith("# Compare")


def test_one_retrieval_per_question(
    make_assistant: Callable[..., Assistant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ranking scored is the ask's own retrieval: nothing is retrieved a second time."""
    assistant = make_assistant()
    assistant.ingest([CORPUS])
    calls: list[str] = []
    search = rag.retrieve.search_with_vector

    def counted(store: Any, embedder: Any, question: str, *args: Any, **kw: Any) -> Any:
        calls.append(question)
        return search(store, embedder, question, *args, **kw)

    monkeypatch.setattr(rag.retrieve, "search_with_vector", counted)
    report = evaluate(assistant, QUESTIONS, limit=3)
    assert len(calls) == 3
    for p in report.predictions:
        assert p.ranked_doc_ids == p.retrieved_doc_ids
        assert set(p.context_doc_ids or []) <= set(p.retrieved_doc_ids)


def test_answer_passages_are_what_the_model_read(
    make_assistant: Callable[..., Assistant],
) -> None:
    assistant = make_assistant()
    assistant.ingest([CORPUS])
    asked = dict(today=load_questions(QUESTIONS)[0].question_date)
    answer = assistant.ask("Who cut the ribbon when the Harbor Bridge reopened?", **asked)
    assert answer.passages and answer.passages[0].hit.doc_id == "mb-bridge"
    assert "passages" not in answer.to_dict()  # not part of the JSON contract
    refused = assistant.ask("What is the airspeed of a migrating swallow?", **asked)
    assert refused.abstained and refused.passages == []  # refused before the model ran


def test_report_without_matplotlib_says_how_to_get_figures(
    make_assistant: Callable[..., Assistant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    out = tmp_path / "run"
    report = evaluate(make_assistant(), QUESTIONS, corpus=CORPUS, out=out, limit=2)
    assert not (out / "figures").exists()
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "matplotlib is not installed" in md and "newsqa\\[report\\]" in md
    assert "matplotlib is not installed" in page and "newsqa[report]" in page
    assert write(report, out) == [out / "report.md", out / "report.html"]


def test_compare_by_half(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    evaluate(make_assistant(), QUESTIONS, corpus=CORPUS, out=tmp_path / "a", limit=3)
    worse = make_assistant()
    worse.llm.script = {**SCRIPT, "cut the ribbon": "the Millbrook River"}  # type: ignore[attr-defined]
    evaluate(worse, QUESTIONS, corpus=CORPUS, out=tmp_path / "b", limit=3)
    result = compare(tmp_path / "a", tmp_path / "b")
    moved = {d.name: d.status for d in result.by_half["tuning"]}
    assert moved["accuracy"] == "regressed"  # mb-1 is in the tuning half
    assert json.loads(json.dumps(result.to_dict()))["by_half"]["tuning"]


def test_cli_eval_run_and_report(
    make_assistant: Callable[..., Assistant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_assistant()
    monkeypatch.setattr(Assistant, "from_config", classmethod(lambda cls, *a, **kw: made))
    out = tmp_path / "run"
    args = [
        "eval",
        "--questions",
        str(QUESTIONS),
        "--corpus",
        str(CORPUS),
        "--out",
        str(out),
        "--types",
        "numeric,unanswerable",
        "--limit",
        "2",
    ]
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

    half = tmp_path / "half"
    args = ["eval", "--questions", str(QUESTIONS), "--corpus", str(CORPUS), "--out", str(half)]
    res = CliRunner().invoke(cli, [*args, "--half", "check", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["run"]["half"] == "check" and set(data["by_half"]) == {"check"}
    assert [r["id"] for r in _lines(half / "predictions.jsonl")] == ["mb-3", "mb-4", "mb-6"]


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

    The questions are picked by rule (the first two answerable factoid questions whose
    answer is stated in their gold article, and the first unanswerable one), and the slice
    (their gold and answer-bearing articles plus 20 others) is written to tmp_path: no dev
    text or id is copied into the repository.
    """
    questions = _lines(DEV / "questions.jsonl")
    stated = [
        q
        for q in questions
        if q["answerable"]
        and q["question_type"] == "factoid"
        and q.get("answer_string_in_gold_text")
    ]
    picked = stated[:2] + [q for q in questions if not q["answerable"]][:1]
    corpus = _lines(DEV / "corpus.jsonl")
    wanted = {
        d for q in picked for d in q["evidence_doc_ids"] + q.get("answer_string_found_in_docs", [])
    }
    chosen = [d for d in corpus if d["doc_id"] in wanted] + [
        d for d in corpus if d["doc_id"] not in wanted
    ][:20]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in picked))
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(d) + "\n" for d in chosen))

    out = tmp_path / "run"
    q, c = str(tmp_path / "q.jsonl"), str(tmp_path / "c.jsonl")
    res = CliRunner().invoke(
        cli, ["eval", "--questions", q, "--corpus", c, "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["run"]["completed"] == 3
    assert data["overall"]["evidence_retrieved"] == 1.0  # the gold articles are found
    assert data["overall"]["latency_p50_s"] > 0
    assert data["overall"]["abstention_unanswerable"] is not None
    rows = _lines(out / "predictions.jsonl")
    assert all(r["context_doc_ids"] is not None for r in rows)
    for name in ("report.md", "report.html", "metrics.json"):
        assert (out / name).stat().st_size > 0
