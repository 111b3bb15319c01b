"""Each benchmark script runs on a tiny input and writes valid JSON (timings are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench_scripts import bench_module

from rag.eval import GoldQuestion, predict, split_date
from rag.eval.gold import half_of
from rag.types import Answer, Hit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CORPUS = ROOT.parent / "shared" / "eval" / "dev" / "corpus.jsonl"
QUESTIONS = ROOT.parent / "shared" / "eval" / "dev" / "questions.jsonl"


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """Three short articles in the JSONL format the corpus uses (no shared data needed)."""
    rows = [
        {"doc_id": "bridge", "title": "City opens new bridge", "published": "2024-05-02",
         "url": "https://example.com/bridge",
         "text": "The Elm Street bridge opened to traffic on Tuesday after two years of work. "
                 "It cost $48 million. The mayor cut the ribbon."},
        {"doc_id": "bakery", "title": "Bakery wins prize", "published": "2024-05-03",
         "url": "https://example.com/bakery",
         "text": "A family bakery won the national bread prize for its rye loaf. "
                 "The owners said the recipe is a century old."},
        {"doc_id": "match", "title": "Local team wins final", "published": "2024-05-04",
         "url": "https://example.com/match",
         "text": "The Rovers beat the Wanderers 3-1 in the cup final on Saturday. "
                 "Their striker scored twice in the second half."},
    ]  # fmt: skip
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(script: str, tmp_path: Path, *args: str, timeout: float = 600, png: bool = True) -> dict:
    out = tmp_path / "results"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--out-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    name = script.removesuffix(".py")
    data = json.loads((out / f"{name}.json").read_text())
    assert data["benchmark"] == name
    assert data["machine"]["cpu_model"] is not None and data["machine"]["ram_gb"] > 0
    assert data["versions"]["torch"]
    assert "config" in data and "results" in data
    assert data["commit"] and data["command"] and data["created"]
    if png:
        assert (out / f"{name}.png").stat().st_size > 0
    assert "wrote" in proc.stdout
    return data["results"]


def test_ingest_bench(tmp_path, tiny_corpus):
    results = run(
        "ingest.py", tmp_path, "--corpus", str(tiny_corpus), "--questions", str(QUESTIONS),
        "--no-experiments", "--rounds", "1", "--sweep-sample", "4", "--batch-sizes", "8,16",
    )  # fmt: skip
    assert results["corpus"]["articles"] == 3
    assert results["corpus"]["chunks"] >= 3
    assert results["ingest"]["chunks_per_s"] > 0 and results["limit"]["chunks_per_s"] > 0
    assert results["target"]["target"] == 0.85


def test_retrieval_bench(tmp_path, tiny_corpus):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "How much did the bridge cost?", "question_date": "2024-05-10"})
        + "\n"
    )
    results = run(
        "retrieval.py", tmp_path, "--sizes", "50,200", "--real", "10", "--corpus",
        str(tiny_corpus), "--questions", str(questions), "--passes", "1",
    )  # fmt: skip
    sizes = [r["size"] for r in results["sizes"]]
    assert sizes == [50, 200]
    assert all(r["latency_ms"]["p50"] > 0 and r["store_mb"] > 0 for r in results["sizes"])
    assert "SYNTHETIC" in results["data"]


def test_retrieval_quality_bench_measures_naive_in_the_same_run(tmp_path, tiny_corpus):
    questions = tmp_path / "q.jsonl"
    rows = [
        {
            "id": "cost",
            "question": "How much did the Elm Street bridge cost?",
            "answers": ["$48 million"],
            "evidence_doc_ids": ["bridge"],
            "answerable": True,
            "question_date": "2024-05-10",
        },
        {
            "id": "final",
            "question": "Who did the Rovers beat in the cup final?",
            "answers": ["the Wanderers"],
            "evidence_doc_ids": ["match"],
            "answerable": True,
            "question_date": "2024-06-10",
        },
        {
            "id": "none",
            "question": "Who won the regatta?",
            "answers": [],
            "evidence_doc_ids": [],
            "answerable": False,
            "question_date": "2024-06-11",
        },
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = run(
        "retrieval_quality.py",
        tmp_path,
        "--corpus",
        str(tiny_corpus),
        "--questions",
        str(questions),
        png=False,
    )
    assert results["questions"] == 2
    for arm in ("ours", "naive"):
        assert results[arm]["all"]["hit_at_4"] == 1.0  # three articles: any gold is in the top 4
        assert results[arm]["tuning"]["n"] + results[arm]["check"]["n"] == 2
    assert results["target"]["target"] == 0.9 and results["target"]["met"]
    assert results["chunks"]["naive"] == 3


def test_naive_pipeline_yields_answers_scored_by_rag_eval(
    tmp_path, tiny_corpus, embedder, fake_llm
):
    naive = bench_module("naive")
    pipeline = naive.NaivePipeline.build(
        tiny_corpus,
        embedder,
        fake_llm("It cost $48 million [1], the mayor said [2] [9]."),
        tmp_path,
    )
    answer = pipeline.ask("How much did the Elm Street bridge cost?")
    assert pipeline.chunks == 3 and len(answer.retrieved) == 3  # dense top-4 of 3 chunks
    assert answer.retrieved[0].doc_id == "bridge"
    assert [p.text for p in answer.passages] == [h.text for h in answer.retrieved]
    # [1] and [2] are the first two chunks; [9] points at no chunk and is dropped.
    assert [c.doc_id for c in answer.citations] == [h.doc_id for h in answer.retrieved[:2]]
    assert not answer.abstained and answer.timings["ttft_s"] <= answer.timings["total_s"]

    gold = GoldQuestion(
        id="q",
        question="How much did the bridge cost?",
        answers=["$48 million"],
        evidence_doc_ids=["bridge"],
        answerable=True,
    )
    p = predict(gold, answer)
    assert p.contains_gold and p.evidence_in_context and p.ranked_doc_ids[0] == "bridge"
    assert p.cited_doc_ids[0] == "bridge"


def test_naive_refusal_is_the_models_own(tmp_path, tiny_corpus, embedder, fake_llm):
    naive = bench_module("naive")
    pipeline = naive.NaivePipeline.build(tiny_corpus, embedder, fake_llm("I don't know."), tmp_path)
    answer = pipeline.ask("Who won the regatta?")
    assert answer.abstained and answer.abstain_reason == naive.REFUSED
    assert answer.citations == [] and len(answer.passages) == 3


def test_hit_at_4_counts_the_first_four_distinct_articles():
    common = bench_module("common")
    ranking = ["a", "a", "b", "c", "c", "d", "e"]
    assert common.gold_in_top_articles(ranking, {"d"})
    assert not common.gold_in_top_articles(ranking, {"e"})
    assert not common.gold_in_top_articles([], {"a"})


def test_quality_figures_and_targets_use_rag_eval_scoring():
    quality = bench_module("quality")
    gold = [
        GoldQuestion(
            id="a",
            question="q a",
            answers=["Ruiz"],
            evidence_doc_ids=["d1"],
            answerable=True,
            question_date="2024-01-01",
        ),
        GoldQuestion(
            id="b",
            question="q b",
            answers=["48"],
            evidence_doc_ids=["d2"],
            answerable=True,
            question_date="2024-02-01",
        ),
        GoldQuestion(
            id="c",
            question="q c",
            answers=[],
            evidence_doc_ids=[],
            answerable=False,
            question_date="2024-03-01",
        ),
    ]
    cut = split_date(gold)

    def hit(doc: str) -> Hit:
        return Hit(chunk_id=f"{doc}:0", doc_id=doc, title="t", text="x", start=0, end=1, score=1)

    answers = [
        Answer(
            "q a",
            "Elena Ruiz did [1].",
            retrieved=[hit("d9"), hit("d1")],
            timings={"ttft_s": 1.0, "total_s": 2.0},
        ),
        Answer(
            "q b",
            "The articles don't say.",
            abstained=True,
            abstain_reason="no retrieved article mentions Zorbia",
            retrieved=[hit("d3")],
            timings={"total_s": 0.1},
        ),
        Answer(
            "q c",
            "The articles don't say.",
            abstained=True,
            abstain_reason="the model found no answer in the retrieved passages",
            timings={"ttft_s": 3.0, "total_s": 4.0},
        ),
    ]
    predictions = [predict(q, a, half=half_of(q, cut)) for q, a in zip(gold, answers, strict=True)]
    halves = quality.by_half(predictions)
    assert halves["all"]["hit@4"] == 0.5 and halves["all"]["contains_gold"] == 0.5
    assert halves["all"]["refused_answerable"] == 1 and halves["all"]["false_abstention"] == 0.5
    assert halves["all"]["abstention_unanswerable"] == 1.0
    assert halves["all"]["ttft_p50_s"] == 2.0  # the questions where the model was called
    assert halves["tuning"]["n"] == 2 and halves["check"]["n"] == 1

    naive = {h: dict(f, ttft_p50_s=10.0) for h, f in halves.items()}
    ratios = quality.ttft_ratios({"ours": halves, "naive": naive})
    assert ratios["ours"]["all"] == 0.2
    checks = quality.check_targets({"ours": halves, "naive": naive}, ratios)
    assert checks["ours"]["all"]["ttft_ratio"]["met"] is True
    assert checks["ours"]["all"]["false_abstention"]["met"] is False  # a missed target
    assert checks["ours"]["all"]["hit@4"] == {
        "measured": 0.5,
        "target": 0.9,
        "op": ">=",
        "met": False,
    }
    assert "ttft_ratio" not in checks["naive"]["all"]
    # Refusal reasons name the question's words: results keep only their kind.
    assert quality.reasons(predictions)["all"] == {
        "subject not in the retrieved articles": 1,
        "model found no answer": 1,
    }
    row = quality.question_row(predictions[1], {})
    assert row["refusal"] == "subject not in the retrieved articles"
    assert "Zorbia" not in json.dumps(row)


def test_every_refusal_kind_opens_a_reason_the_code_gives():
    quality = bench_module("quality")
    sources = (ROOT / "rag" / "gate.py").read_text() + (BENCH / "naive.py").read_text()
    for opening, _ in quality.REASON_KINDS:
        # rag/gate.py writes "no {which} article mentions ..." for retrieved and cited
        templated = opening.replace("retrieved article", "{which} article")
        templated = templated.replace("cited article", "{which} article")
        assert opening in sources or templated in sources, opening


@pytest.mark.integration
@pytest.mark.skipif(not QUESTIONS.exists(), reason="needs ../shared/eval/dev")
def test_answer_bench(tmp_path):
    results = run("answer.py", tmp_path, "--limit", "1", "--distractors", "2", "--no-probe")
    assert results["questions"] == 1
    for name in ("ours", "ours_wide", "naive"):
        assert results[name]["ttft_s"]["n"] == 1
        assert results[name]["accuracy_overall"] in (0.0, 1.0)
    # Figures and question ids only: no question or answer text of the (unlicensed) dev set.
    (row,) = results["per_question"]
    question = json.loads(QUESTIONS.read_text().splitlines()[0])
    assert row["id"] == question["id"] and "text" not in row["ours"]
    assert question["question"] not in json.dumps(results, ensure_ascii=False)
    assert set(results["targets"]) == {"ours", "ours_wide"}
    assert results["targets"]["ours_wide"]["ttft_p50_ratio"]["measured"] > 0


@pytest.mark.integration
@pytest.mark.skipif(not QUESTIONS.exists(), reason="needs ../shared/eval/dev")
def test_quality_bench(tmp_path):
    results = run(
        "quality.py",
        tmp_path,
        "--limit",
        "1",
        "--distractors",
        "2",
        "--config",
        "configs/wide.toml",
        "--withhold-gold",
        png=False,
        timeout=1800,
    )
    assert results["questions"] == 1 and results["partial"] is True
    assert set(results["arms"]) == {"ours", "naive", "ours_wide"}
    for arm in results["arms"].values():
        assert set(arm["figures"]) == {"tuning", "check", "all"}
        assert arm["figures"]["all"]["n"] == 1
    assert set(results["ttft_ratio"]) == {"ours", "ours_wide"}
    assert results["checks"]["ours"]["all"]["hit@4"]["target"] == 0.9
    question = json.loads(QUESTIONS.read_text().splitlines()[0])
    (row,) = results["per_question"]
    assert row["id"] == question["id"] and set(row) >= {"ours", "naive", "ours_wide"}
    assert results["withheld"]["figures"]["all"]["n"] == int(question["answerable"])
    # Figures and question ids only: no question or answer text of the (unlicensed) dev set.
    assert question["question"] not in json.dumps(results, ensure_ascii=False)


@pytest.mark.integration
@pytest.mark.enable_socket
def test_footprint_bench(tmp_path):
    results = run("footprint.py", tmp_path, "--no-answer")
    assert results["serve"]["ready_s"] > 0
    assert results["rag_list"]["imported"]["torch"] is False


def test_a_missing_dev_set_is_a_clear_error_not_a_traceback(tmp_path):
    env = {**os.environ, "NEWSQA_DEV_SET": str(tmp_path / "nowhere")}
    proc = subprocess.run(
        [sys.executable, str(BENCH / "answer.py"), "--limit", "1", "--out-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "NEWSQA_DEV_SET" in proc.stderr and "Traceback" not in proc.stderr


def test_injection_bench_prompt_only(tmp_path):
    """Two suite articles without the model: the canaries must not reach the prompt."""
    out = tmp_path / "results"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(BENCH / "injection.py"), "--prompt-only", "--only", "en-role-marathon",
         "--only", "zh-article-library", "--out-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((out / "injection.json").read_text())
    totals = data["results"]["totals"]
    assert data["commit"] and data["command"] and data["machine"]["cpu_model"] is not None
    assert totals["articles"] == 2 and totals["in_prompt"] == 0 and totals["reached"] is None
    assert {a["id"] for a in data["results"]["articles"]} == {
        "en-role-marathon",
        "zh-article-library",
    }
