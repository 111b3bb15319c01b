"""`rag serve` for real (default config, the packaged LLM) asked through its REST API by curl."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

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
