"""bench/dev_eval.py: a choice-mode run on a quoting fake model over three articles."""

from __future__ import annotations

import json

import pytest
from bench_scripts import bench_module, write_jsonl
from fakes import QuotingChatModel


@pytest.fixture(scope="module")
def dev_eval():
    return bench_module("dev_eval")


def test_choice_mode_by_half_writes_figures_and_ids_only(dev_eval, tmp_path, embedder):
    articles = [
        ("tram", "Tram line extended", "2024-06-02",
         "The Blue tram line was extended by 4 kilometres on Monday. "
         "Engineer Priya Nandakumar led the works."),
        ("orchard", "Orchard wins cider award", "2024-06-03",
         "Hollow Oak orchard won the county cider award for its dry perry. "
         "The orchard was planted in 1911."),
        ("chess", "Chess club takes league", "2024-06-04",
         "The Knights chess club beat the Rooks 5-3 in the league decider on Sunday."),
    ]  # fmt: skip
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        ({"doc_id": d, "title": t, "published": p, "text": x} for d, t, p, x in articles),
    )
    gold = [
        ("km", "By how far was the Blue tram line extended?", "4 kilometres", "tram", "06-10"),
        ("won", "What did Hollow Oak orchard win?", "county cider award", "orchard", "06-20"),
        ("beat", "Which club did the Knights beat?", "the Rooks", "chess", "06-21"),
    ]
    decoys = ["9 kilometres", "regional bread prize", "the Pawns"]
    questions = write_jsonl(
        tmp_path / "questions.jsonl",
        ({"id": i, "question": q, "answers": [a], "evidence_doc_ids": [e],
          "answerable": True, "question_date": f"2024-{d}",
          "choices": [decoys[n], a], "answer_choice_index": 1}
         for n, (i, q, a, e, d) in enumerate(gold)),
    )  # fmt: skip
    # It quotes every phrase it finds: three sentences, as many as an answer keeps.
    llm = QuotingChatModel(phrases=[a for _, _, a, _, _ in gold])
    out = tmp_path / "results"
    dev_eval.main(
        ["--mode", "choice", "--questions", str(questions), "--corpus", str(corpus),
         "--out-dir", str(out), "--store", str(tmp_path / "store")],
        llm=llm,
        embedder=embedder,
    )  # fmt: skip
    data = json.loads((out / "dev_choice.json").read_text())
    assert data["benchmark"] == "dev_choice" and data["commit"] and data["command"]
    results = data["results"]
    assert results["mode"] == "choice" and not results["partial"]
    halves = results["halves"]
    assert [halves[h]["n"] for h in ("tuning", "check", "all")] == [2, 1, 3]
    assert halves["all"]["choice_accuracy"] == 1.0  # the quoted sentence names the right option
    assert sum(results["outcomes"]["tuning"].values()) == 2
    saved = json.dumps(data)
    for _, question, answer, _, _ in gold:  # figures and ids only: no question or answer text
        assert question not in saved and answer not in saved
