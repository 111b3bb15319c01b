"""`rag serve` for real (default config, the packaged LLM) asked through its REST API by curl."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from relkit import real_app_server

QUESTION = "Why did Ukraine want Patriot systems?"
SUPPORT = "defending its cities from intensifying Russian air strikes"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.enable_socket,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`rag ingest seeds/` then `rag serve` on a free port; yields the base URL."""
    with real_app_server(tmp_path_factory.mktemp("store")) as url:
        yield url


def curl(*args: str) -> str:
    done = subprocess.run(["curl", "-sS", "--max-time", "900", *args], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout


def test_curl_gets_a_cited_answer(server):
    body = json.dumps({"question": QUESTION, "today": "2025-07-10"})
    out = curl("-H", "Content-Type: application/json", "-d", body, f"{server}/api/ask")

    answer = json.loads(out)
    assert not answer["abstained"], answer
    assert answer["citations"], answer
    assert any(SUPPORT in c["quote"] for c in answer["citations"]), answer["citations"]
    assert all(f"[{c['n']}]" in answer["answer"] for c in answer["citations"])

    health = json.loads(curl(f"{server}/api/health"))
    assert health["models_loaded"] == {"embedder": True, "llm": True}
    assert health["articles"] == 1 and health["chunks"] >= 1
    # The chat is served beside the API.
    assert "<html" in curl(server).lower()


# ---- the other doors: the OpenAI-compatible API and MCP, with the real model -----------------


def test_openai_client_gets_the_cited_answer(server):
    import openai

    client = openai.OpenAI(base_url=f"{server}/v1", api_key="none", timeout=900)
    messages: Any = [{"role": "user", "content": QUESTION}]

    reply = client.chat.completions.create(model="newsqa", messages=messages)
    text = reply.choices[0].message.content or ""
    citations = reply.citations  # type: ignore[attr-defined]  # our extra field
    assert not reply.abstained, text  # type: ignore[attr-defined]
    assert any(SUPPORT in c["quote"] for c in citations), citations
    assert all(f"[{c['n']}]" in text for c in citations) and "**Sources**" in text

    chunks = list(client.chat.completions.create(model="newsqa", messages=messages, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert any(SUPPORT in c["quote"] for c in chunks[-1].citations)  # type: ignore[attr-defined]
    assert "[1]" in streamed and SUPPORT in streamed


async def test_mcp_ask_returns_the_quote(server):
    from mcp import Client

    async with Client(f"{server}/mcp", read_timeout_seconds=900) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("ask", {"question": QUESTION, "today": "2025-07-10"})

    assert tools == {"search", "ask", "list_articles", "get_article"}
    assert not result.is_error and not result.structured_content["abstained"]
    assert any(SUPPORT in c["quote"] for c in result.structured_content["citations"])
