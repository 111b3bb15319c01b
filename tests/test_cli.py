"""The ``rag`` command line, through click's CliRunner (real embedder, scripted LLM)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from rag import embed, llm
from rag.cli import cli

DATA = Path(__file__).parent / "data" / "articles"


@pytest.fixture
def run(tmp_path, monkeypatch, embedder, fake_llm):
    """``run(*args, replies=[...])``: invoke ``rag`` against a tmp store with fakes injected."""
    monkeypatch.setattr(embed, "load", lambda settings: embedder)
    store = tmp_path / "cli-store"

    def invoke(*args: str, replies: tuple[str, ...] = ()) -> Result:
        monkeypatch.setattr(llm, "load", lambda settings: fake_llm(*replies))
        result = CliRunner().invoke(cli, [*args, "--store", str(store)])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result

    return invoke


def assert_one_line_error(result: Result, *words: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    if result.exit_code == 1:  # a library error, not a usage error: nothing but that line
        assert result.output.strip() == errors[0]
    for word in words:
        assert word in errors[0]


def all_commands() -> list[click.Command]:
    return list(cli.commands.values())  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: c.name)
def test_every_command_and_option_has_help(command):
    assert command.help and command.help.strip()
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{command.name} {param.opts}"
    result = CliRunner().invoke(cli, [command.name, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_group_help_lists_the_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ["ingest", "ask", "search", "list", "delete", "serve", "mcp"]:
        assert name in result.output


def test_ingest_then_reingest(run):
    first = run("ingest", str(DATA))
    assert first.exit_code == 0, first.output
    assert "3 added, 0 updated, 0 unchanged, 0 failed" in first.output
    second = run("ingest", str(DATA), "--json")
    report = json.loads(second.stdout)
    assert len(report["unchanged"]) == 3 and report["added"] == [] and report["chunks"] == 0


def test_ingest_reports_failures_and_goes_on(run, tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01binary")
    result = run("ingest", str(DATA), str(tmp_path / "bad.txt"), str(tmp_path / "missing"))
    assert result.exit_code == 1  # the good files are stored, and a script can tell
    assert f"failed: {tmp_path / 'bad.txt'}: binary file" in result.stderr
    assert "3 added, 0 updated, 0 unchanged, 2 failed" in result.stdout


def test_ask_json(run):
    run("ingest", str(DATA))
    result = run(
        "ask", "When did the Harbour Bridge open?", "--json", "--today", "2024-12-01",
        replies=("It opened to traffic on Tuesday morning [1].",),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == "When did the Harbour Bridge open?"
    assert "[1]" in data["answer"] and "opened to traffic on Tuesday morning" in data["answer"]
    assert data["abstained"] is False and data["abstain_reason"] is None
    (citation,) = data["citations"]
    fields = {"n", "doc_id", "title", "url", "published", "quote", "start", "end", "score"}
    assert fields <= set(citation)
    assert citation["n"] == 1 and citation["published"] == "2024-03-12"
    assert citation["title"] == "Harbour Bridge opens to traffic after six years of work"
    assert isinstance(citation["start"], int) and citation["end"] > citation["start"]
    assert data["retrieved"] and all({"chunk_id", "doc_id", "score"} <= set(r)
                                     for r in data["retrieved"])  # fmt: skip
    assert citation["doc_id"] in {r["doc_id"] for r in data["retrieved"]}
    assert {"retrieve_s", "ttft_s", "total_s"} <= set(data["timings"])


def test_ask_plain_text_shows_sources(run):
    run("ingest", str(DATA))
    result = run("ask", "Who won the cup final?", replies=("Riverside Rovers won 3-1 [1].",))
    assert result.exit_code == 0, result.output
    assert "Riverside Rovers won 3-1" in result.stdout
    assert "[1] Riverside Rovers win the cup final 3-1 against Northgate (2024-06-15)" in (
        result.stdout
    )


def test_ask_abstains_as_json(run):
    run("ingest", str(DATA))
    result = run("ask", "What is the boiling point of mercury?", "--json")  # LLM not called
    data = json.loads(result.stdout)
    assert data["abstained"] is True and data["citations"] == []
    assert data["abstain_reason"]


def test_search_json(run):
    run("ingest", str(DATA))
    result = run("search", "sourdough bread award", "--json", "-k", "2")
    rows = json.loads(result.stdout)
    assert len(rows) == 2
    assert rows[0]["title"] == "Family bakery on Mill Street wins national bread award"


def test_list_and_delete(run):
    run("ingest", str(DATA))
    listed = json.loads(run("list", "--json").stdout)
    assert [r["published"] for r in listed] == ["2024-06-15", "2024-05-02", "2024-03-12"]
    doc_id = listed[0]["doc_id"]

    plain = run("list")
    assert plain.exit_code == 0 and doc_id in plain.stdout and "3 articles" in plain.stderr

    deleted = run("delete", doc_id)
    assert deleted.exit_code == 0 and f"deleted {doc_id}" in deleted.stdout
    assert doc_id not in run("list").stdout


def test_delete_unknown_article(run):
    run("ingest", str(DATA))
    assert_one_line_error(run("delete", "no-such-doc"), "no such article: no-such-doc")


def test_ask_on_empty_store(run):
    assert_one_line_error(run("ask", "When did the bridge open?"), "store is empty", "rag ingest")


def test_empty_question(run):
    run("ingest", str(DATA))
    assert_one_line_error(run("ask", "   "), "question is empty")


@pytest.mark.parametrize("today", ["2024-13-01", "yesterday", "01/12/2024"])
def test_bad_today_format(run, today):
    result = run("ask", "When did the bridge open?", "--today", today)
    assert result.exit_code == 2
    assert_one_line_error(result, "--today")


def test_nonexistent_config(run, tmp_path):
    result = run("list", "--config", str(tmp_path / "nope.toml"))
    assert_one_line_error(result, "config file not found", "nope.toml")


def test_invalid_config(run, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[chunk]\nmax_token = 100\n")
    result = run("list", "--config", str(config))
    assert_one_line_error(result, "invalid config", "chunk.max_token", "not permitted")


def test_config_with_bad_toml_syntax(run, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[chunk\nmax_tokens = 100\n")
    assert_one_line_error(run("list", "--config", str(config)), "invalid TOML", "bad.toml")


def test_store_path_that_cannot_be_created(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    store = tmp_path / "a-file" / "store"
    result = CliRunner().invoke(cli, ["list", "--store", str(store)])
    assert_one_line_error(result, "cannot create the store", str(store))


def test_missing_ingest_path_is_a_failure_not_a_crash(run, tmp_path):
    result = run("ingest", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "no such file or folder" in result.stderr
    assert "0 added" in result.stdout
