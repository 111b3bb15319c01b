"""``rag timeline`` and ``rag ask --since-then`` through click's CliRunner (real embedder,
scripted LLM), on tests/data/stories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rag import embed, llm
from rag.cli import cli

STORIES = Path(__file__).parent / "data" / "stories"


@pytest.fixture
def run(tmp_path, monkeypatch, embedder, fake_llm):
    """``run(*args, replies=[...])``: invoke ``rag`` against a store of the stories."""
    monkeypatch.setattr(embed, "load", lambda settings: embedder)
    store = tmp_path / "cli-store"

    def invoke(*args: str, replies: tuple[str, ...] = ()) -> Result:
        monkeypatch.setattr(llm, "load", lambda settings: fake_llm(*replies))
        result = CliRunner().invoke(cli, [*args, "--store", str(store)])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result

    assert run_ok(invoke("ingest", str(STORIES)))
    return invoke


def run_ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def test_timeline_json(run):
    out = run_ok(run("timeline", "--json", "--today", "2025-07-01", "Varnholt mill fire"))

    data = json.loads(out.output)
    assert data["topic"] == "Varnholt mill fire" and data["reason"] is None
    assert [e["published"] for e in data["events"]] == ["2025-03-10", "2025-03-11", "2025-03-14"]
    for event in data["events"]:
        assert {"published", "doc_id", "title", "quote", "start", "end", "sources"} <= set(event)
        assert event["end"] - event["start"] == len(event["quote"])


def test_timeline_text_and_options(run):
    out = run_ok(
        run(
            "timeline",
            "--since",
            "2025-06-05",
            "--limit",
            "2",
            "--today",
            "2025-07-01",
            "Castlemere dock strike",
        )
    )

    lines = [line for line in out.output.splitlines() if line[:4].isdigit()]
    assert len(lines) == 2 and all(line[:10] >= "2025-06-05" for line in lines)
    assert lines == sorted(lines)


def test_timeline_of_nothing_says_why(run):
    out = run_ok(run("timeline", "--today", "2025-07-01", "Patriot systems for Ukraine"))
    assert out.output.startswith("No timeline for “Patriot systems for Ukraine”: ")


def test_ask_since_then_json(run):
    replies = (
        "The strike at the Port of Castlemere has been extended until Friday 13 June [1].",
        "The strike at the Port of Castlemere ended on Wednesday night [1].",
    )
    out = run_ok(
        run(
            "ask",
            "--json",
            "--since-then",
            "2025-06-07",
            "--today",
            "2025-06-13",
            "Is the Castlemere dock strike still on?",
            replies=replies,
        )
    )

    data = json.loads(out.output)
    assert data["since"] == "2025-06-07" and data["today"] == "2025-06-13"
    assert data["changed"] is True and " became " in data["difference"]
    assert data["before"]["citations"][0]["published"] == "2025-06-06"
    assert data["after"]["citations"][0]["published"] == "2025-06-12"


def test_ask_since_then_text(run):
    replies = (
        "The strike at the Port of Castlemere has been extended until Friday 13 June [1].",
        "The strike at the Port of Castlemere ended on Wednesday night [1].",
    )
    out = run_ok(
        run(
            "ask",
            "--since-then",
            "2025-06-07",
            "--today",
            "2025-06-13",
            "Is the Castlemere dock strike still on?",
            replies=replies,
        )
    )

    text = out.output
    assert "As of 2025-06-07:" in text and "As of 2025-06-13:" in text
    assert text.index("As of 2025-06-07:") < text.index("As of 2025-06-13:")
    assert "What changed: Friday 13 June (" in text


def test_ask_shows_disagreements_and_the_freshness_note(run):
    toll = run_ok(
        run(
            "ask",
            "--json",
            "--today",
            "2025-03-15",
            "How many people died in the Varnholt mill fire?",
            replies=("Officials revised the death toll from the Varnholt mill fire to 17 [1].",),
        )
    )
    offer = run_ok(
        run(
            "ask",
            "--today",
            "2025-06-20",
            "What pay rise did Castlemere Terminals offer?",
            replies=("Castlemere Terminals offered a 4% rise [1].",),
        )
    )

    data = json.loads(toll.output)
    assert data["disagreements"] and data["disagreements"][0]["used"] == "newer"
    assert data["freshness_note"] is None
    assert "Note: Based on a report of 2 June 2025; newer articles: " in offer.output


PAIRS = Path(__file__).parent / "data" / "disagreements" / "pairs.jsonl"


def test_eval_disagreements_reports_precision_and_recall(run, tmp_path):
    text = run_ok(run("eval", "disagreements", str(PAIRS))).output
    assert text.startswith(f"disagreement detector on {PAIRS}")
    assert [line.split()[0] for line in text.splitlines()[1:5]] == [
        "tuning",
        "check",
        "holdout",
        "all",
    ]

    data = json.loads(run_ok(run("eval", "disagreements", "--json", str(PAIRS))).output)
    assert set(data) == {"tuning", "check", "holdout", "all"}
    every = data["all"]
    assert every["items"] == sum(data[s]["items"] for s in ("tuning", "check", "holdout"))
    assert every["tp"] + every["fn"] == every["positives"]
    assert every["precision"] >= 0.9 and every["recall"] >= 0.6  # the bar

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    result = run("eval", "disagreements", str(bad))
    assert result.exit_code == 1 and "not a file of labelled pairs" in result.output


def test_eval_news_scores_timelines_against_the_store(run, tmp_path):
    gold = tmp_path / "gold.jsonl"
    lines = Path(__file__).parent.joinpath("data", "news_gold.jsonl").read_text(encoding="utf-8")
    gold.write_text(
        "\n".join(
            line
            for line in lines.splitlines()
            if '"timeline-fire"' in line or '"timeline-uncovered-topic"' in line
        ),
        encoding="utf-8",
    )

    data = json.loads(run_ok(run("eval", "news", str(gold), "--json")).output)
    text = run_ok(run("eval", "news", str(gold), "--kinds", "timeline")).output

    assert data["all"]["timeline"]["items"] == 2
    assert data["all"]["timeline"]["order_accuracy"] == 1.0
    assert data["all"]["timeline"]["empty_correct"] == 1.0
    assert "changes" not in data["all"] and data["all"]["errors"] == []
    assert "timeline" in text and "order=1.000" in text
