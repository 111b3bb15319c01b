"""The MCP tools (ui/mcp_server.py) through the official SDK's client.

In process (real embedder and Chroma, scripted LLM), and over stdio: `rag mcp` as a child
process with fake models (tests/reliability/serve_child.py). Over HTTP, against `rag serve`,
in tests/test_other_tools.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA
from mcp import Client, StdioServerParameters
from relkit import SERVE_CHILD, child_env

from ui.mcp_server import build_mcp

BRIDGE_Q = "When did the Harbour Bridge open?"
BRIDGE_REPLY = "The Harbour Bridge opened to traffic on Tuesday morning [1]."
QUOTE = "opened to traffic on Tuesday morning"
TOOLS = {"search", "ask", "list_articles", "get_article"}


def text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


async def test_tools_have_typed_schemas_and_docstrings(make_assistant):
    async with Client(build_mcp(make_assistant())) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}

    assert set(tools) == TOOLS  # no ingest_text unless the config allows writing
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None, tool.name  # structured results
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("description"), (tool.name, name)
    assert tools["ask"].input_schema["required"] == ["question"]
    assert tools["get_article"].input_schema["required"] == ["doc_id"]
    k = tools["search"].input_schema["properties"]["k"]
    assert (k["type"], k["minimum"], k["maximum"]) == ("integer", 1, 20)
    today = tools["ask"].input_schema["properties"]["today"]
    assert {"type": "string", "format": "date"} in today["anyOf"]
    assert tools["search"].annotations.read_only_hint is True


async def test_ask_returns_the_answer_and_the_exact_quote(make_assistant):
    assistant = make_assistant(BRIDGE_REPLY)
    async with Client(build_mcp(assistant)) as client:
        result = await client.call_tool("ask", {"question": BRIDGE_Q, "today": "2024-12-01"})

    assert not result.is_error, text(result)
    answer = result.structured_content
    assert answer["answer"] == BRIDGE_REPLY and answer["abstained"] is False
    (citation,) = answer["citations"]
    assert QUOTE in citation["quote"] and citation["published"] == "2024-03-12"
    stored = assistant.article(citation["doc_id"])
    assert stored is not None
    assert stored.text[citation["start"] : citation["end"]] == citation["quote"]
    assert QUOTE in text(result)  # the same as text, for clients without structured output


async def test_abstention_says_why(make_assistant):
    async with Client(build_mcp(make_assistant())) as client:
        result = await client.call_tool("ask", {"question": "Who won the chess olympiad on Mars?"})
    assert not result.is_error
    assert result.structured_content["abstained"] is True
    assert result.structured_content["abstain_reason"]
    assert result.structured_content["citations"] == []


async def test_search_list_and_get_article(make_assistant):
    async with Client(build_mcp(make_assistant())) as client:
        found = await client.call_tool("search", {"query": "sourdough bakery award", "k": 2})
        listed = await client.call_tool("list_articles", {"limit": 2})
        rest = await client.call_tool("list_articles", {"limit": 2, "offset": 2})
        (chunk, *_) = found.structured_content["chunks"]
        article = await client.call_tool("get_article", {"doc_id": chunk["doc_id"]})
        early = await client.call_tool("search", {"query": "bridge", "until": "2024-01-01"})

    assert 1 <= len(found.structured_content["chunks"]) <= 2
    assert chunk["title"] == "Family bakery on Mill Street wins national bread award"
    assert set(chunk) >= {"doc_id", "title", "published", "url", "text"}
    assert listed.structured_content["total"] == 3
    assert len(listed.structured_content["articles"]) == 2
    assert len(rest.structured_content["articles"]) == 1
    body = article.structured_content
    assert body["doc_id"] == chunk["doc_id"] and chunk["text"] in body["text"]
    assert body["published"] == "2024-05-02"
    assert early.structured_content["chunks"] == []


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("get_article", {"doc_id": "no-such-article"}, "No such article"),
        ("ask", {"question": ""}, "The question is empty"),
        ("ask", {"question": "   "}, "The question is empty"),
        ("ask", {"question": "x" * 5000}, "too long"),
        ("ask", {}, "question"),
        ("ask", {"question": 42}, "question"),
        ("search", {"query": "bridge", "k": "many"}, "k"),
        ("search", {"query": "bridge", "k": 0}, "k"),
        ("search", {"query": "bridge", "since": "last week"}, "since"),
        ("ingest_text", {"records": []}, "ingest_text"),  # not offered by default
        ("nope", {}, "nope"),
    ],
)
async def test_bad_calls_are_tool_errors_not_crashes(make_assistant, tool, arguments, says):
    async with Client(build_mcp(make_assistant())) as client:
        result = await client.call_tool(tool, arguments)
        assert result.is_error and says in text(result), text(result)
        # The server is still there.
        assert (await client.call_tool("list_articles", {})).structured_content["total"] == 3


async def test_empty_store_is_a_tool_error(make_assistant):
    async with Client(build_mcp(make_assistant(ingest=False))) as client:
        result = await client.call_tool("ask", {"question": BRIDGE_Q})
    assert result.is_error and "rag ingest" in text(result)


async def test_ingest_text_only_when_writing_is_enabled(make_assistant, settings):
    record = {
        "title": "Night trains return to the valley",
        "published": "2024-05-02",
        "text": "The night train to Oberdorf runs again from June, the railway said.",
    }
    assistant = make_assistant()
    assert settings.serve.mcp_write is False
    async with Client(build_mcp(assistant, write=True)) as client:
        assert "ingest_text" in {t.name for t in (await client.list_tools()).tools}
        added = await client.call_tool("ingest_text", {"records": [record]})
        found = await client.call_tool("search", {"query": "night train Oberdorf", "k": 1})
        bad = await client.call_tool("ingest_text", {"records": [{"title": "no text"}]})
    assert not added.is_error, text(added)
    (doc_id,) = added.structured_content["added"]
    assert found.structured_content["chunks"][0]["doc_id"] == doc_id
    assert bad.is_error and "text" in text(bad)
    enabled = settings.model_copy(
        update={"serve": settings.serve.model_copy(update={"mcp_write": True})}
    )
    assert "ingest_text" in {
        t.name for t in (await _tools(build_mcp(assistant.__class__(enabled))))
    }


async def _tools(server: Any) -> list[Any]:
    async with Client(server) as client:
        return list((await client.list_tools()).tools)


# ---- over stdio: `rag mcp` -------------------------------------------------------------------


def fake_rag(tmp_path: Path, extra: Sequence[Path] = ()) -> Path:
    """A folder with a `rag` that is `rag ... --store STORE --config CFG` with fake models.

    The store holds the test articles and ``extra`` (ingested by the same fake-model child).
    """
    store, config = tmp_path / "store", tmp_path / "serve.toml"
    config.write_text("[retrieve]\nmin_score = 0.05\n", encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    rag = bin_dir / "rag"
    rag.write_text(
        "#!/bin/sh\n"
        f'export PYTHONPATH="{root}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1\n'
        f'exec "{sys.executable}" "{SERVE_CHILD}" "$@" --store "{store}" --config "{config}"\n',
        encoding="utf-8",
    )
    rag.chmod(0o755)
    subprocess.run(
        [str(rag), "ingest", str(DATA), *map(str, extra)],
        check=True,
        capture_output=True,
        timeout=300,
        env=child_env(),
    )
    return bin_dir


async def test_rag_mcp_over_stdio(tmp_path):
    bin_dir = fake_rag(tmp_path)
    server = StdioServerParameters(command=str(bin_dir / "rag"), args=["mcp"], cwd=str(tmp_path))
    async with Client(server, read_timeout_seconds=120) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        asked = await client.call_tool("ask", {"question": BRIDGE_Q, "today": "2024-12-01"})
        missing = await client.call_tool("get_article", {"doc_id": "nope"})
        empty = await client.call_tool("ask", {"question": ""})
        listed = await client.call_tool("list_articles", {})

    assert tools == TOOLS
    assert not asked.is_error, text(asked)
    assert any(QUOTE in c["quote"] for c in asked.structured_content["citations"])
    assert missing.is_error and "No such article" in text(missing)
    assert empty.is_error and "empty" in text(empty)
    assert listed.structured_content["total"] == 3  # still serving after the bad calls
