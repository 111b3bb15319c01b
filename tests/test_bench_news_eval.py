"""bench/news_eval.py on the project's gold file with a quoting fake model (no real model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_scripts import bench_module
from fakes import QuotingChatModel

from rag.eval.news_gold import load_news_gold

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "tests" / "data" / "news_gold.jsonl"


@pytest.fixture(scope="module")
def news_eval():
    return bench_module("news_eval")


def test_bench_writes_scores_per_split_figures_and_ids_only(news_eval, tmp_path, embedder):
    items = [i for i in load_news_gold(GOLD) if i.kind in ("timeline", "freshness")]
    llm = QuotingChatModel(phrases=[i.cite for i in items if getattr(i, "cite", None)])
    out = tmp_path / "results"

    news_eval.main(
        ["--kinds", "timeline,freshness", "--out-dir", str(out)], llm=llm, embedder=embedder
    )

    data = json.loads((out / "news_eval.json").read_text())
    assert data["benchmark"] == "news_eval" and data["commit"] and data["command"]
    assert data["config"]["gold"] == "tests/data/news_gold.jsonl"
    assert data["config"]["kinds"] == ["timeline", "freshness"]
    results = data["results"]
    assert list(results["scores"]) == ["tuning", "check", "all"]
    timelines = sum(i.kind == "timeline" for i in items)
    assert results["counts"]["all"] == {
        "items": len(items),
        "timeline": timelines,
        "freshness": len(items) - timelines,
    }
    assert sum(results["counts"][s]["items"] for s in ("tuning", "check")) == len(items)
    for split in ("tuning", "check", "all"):
        scores = results["scores"][split]
        assert set(scores) == {"timeline", "freshness"}  # no changes item, no error texts
        assert scores["timeline"]["recall"] == 1.0
    freshness = results["scores"]["all"]["freshness"]
    assert freshness["precision"] == freshness["recall"] == 1.0
    assert results["model"] == "QuotingChatModel" and results["seconds"] >= 0
    assert {i["id"] for i in results["items"]} == {i.id for i in items}
    assert all(set(i) >= {"id", "split", "kind", "right"} for i in results["items"])
    assert llm.calls == len(items) - timelines  # one answer per freshness item, none else
    # Figures and ids only: no question, phrase or article text.
    text = (out / "news_eval.json").read_text()
    for item in items:
        for words in (getattr(item, "question", None), getattr(item, "cite", None)):
            assert not words or words not in text
    assert "Castlemere" not in text

    # bench/readme.py renders the file: one row per split, the model, the provenance.
    readme = bench_module("readme")
    block = readme.news_eval(readme.Results(out), lambda f: f)
    rows = [line for line in block.splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| tuning", "| check", "| all"]
    assert "1.00 / " in rows[-1] and "QuotingChatModel" in block
    assert "bench/results/news_eval.json" in block and "Not measured" not in block
