"""Each benchmark script runs on a tiny input and writes valid JSON (timings are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def run(script: str, tmp_path: Path, *args: str, timeout: float = 600) -> dict:
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


def test_normalised_contains_gold():
    sys.path.insert(0, str(BENCH))
    try:
        from answer import contains_gold, normalise
    finally:
        sys.path.remove(str(BENCH))
    assert normalise("The U.S. cut 50%!") == "us cut 50"
    assert contains_gold("Officials aim to cut U.S. rail fares by at least 30% [1].",
                         ["Cut US rail fares by at least 30%"])  # fmt: skip
    assert not contains_gold("The articles don't say.", ["Elena Ruiz"])


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
