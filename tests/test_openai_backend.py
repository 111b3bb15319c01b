"""``llm.provider = "openai"``: any OpenAI-compatible server, here llama.cpp's own.

The integration tests start ``python -m llama_cpp.server`` on the packaged GGUF (llama-cpp-
python's ``[server]`` extra) on a free loopback port and ask it the seed question through the
whole pipeline. The other tests need no model: a server that is down must give a clear
``ModelError`` that names it, in the library and in the chat.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from relkit import free_port, stop

from rag import Assistant, Token
from rag.config import DEFAULT_CONFIG, LLMSettings, Settings
from rag.errors import ModelError
from rag.llm import load
from ui.app import Handlers

TESTS = Path(__file__).parent
DATA = TESTS / "data" / "articles"
SEEDS = TESTS.parent / "seeds"
QUESTION = "Why did Ukraine want Patriot systems?"
TODAY = date(2025, 7, 10)
SUPPORT = "defending its cities from intensifying Russian air strikes"
BRIDGE_Q = "When did the Harbour Bridge open?"

pytestmark = pytest.mark.enable_socket  # loopback only: the model server and a closed port


def openai_settings(settings: Settings, base_url: str, **llm: object) -> Settings:
    return settings.with_overrides(llm={"provider": "openai", "model": "qwen",
                                        "base_url": base_url, **llm})  # fmt: skip


# ---- no model needed -------------------------------------------------------------------------


def test_max_tokens_is_sent_the_way_the_server_reads_it(monkeypatch):
    local = load(LLMSettings(provider="openai", base_url="http://127.0.0.1:1/v1", max_tokens=7))
    assert local.extra_body == {"max_tokens": 7}  # llama.cpp, Ollama, vLLM
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    hosted = load(LLMSettings(provider="openai", max_tokens=7))
    assert hosted.max_tokens == 7 and not hosted.extra_body  # max_completion_tokens


def test_a_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(ModelError, match=r"\$MY_KEY"):
        load(LLMSettings(provider="openai", api_key_env="MY_KEY"))


@pytest.fixture
def down(settings, embedder) -> tuple[Assistant, str]:
    """An assistant over the test articles whose model server is not running."""
    url = f"http://127.0.0.1:{free_port()}/v1"  # bound and released: nothing listens there
    assistant = Assistant(openai_settings(settings, url), embedder=embedder)
    assistant.ingest([DATA])
    return assistant, url


def test_a_server_that_is_down_is_a_model_error_naming_it(down):
    assistant, url = down
    with pytest.raises(ModelError, match=f"cannot reach the model server at {re.escape(url)}"):
        assistant.ask(BRIDGE_Q, today=TODAY)


def test_the_chat_shows_the_server_down_error(down):
    assistant, url = down
    h = Handlers(assistant)
    _, _, turns, pending = h.submit(BRIDGE_Q, [])

    steps = list(h.answer(pending, turns, today="2024-12-01"))

    chat, turns = steps[-1]
    html = chat[-1]["content"]
    assert "nq-error" in html and url in html and "cannot reach the model server" in html
    assert turns[-1].done and turns[-1].answer is None


# ---- a real llama.cpp server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def model_server() -> Iterator[str]:
    """``python -m llama_cpp.server`` on the packaged GGUF; yields its base URL."""
    from rag.models import packaged_gguf_path

    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_gguf_path()),
        "--model_alias", "qwen", "--n_ctx", "4096", "--n_threads", "2",
        "--host", "127.0.0.1", "--port", str(port), "--verbose", "False",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stdout or []), daemon=True).start()
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start:\n" + "".join(log))
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        yield base_url
    finally:
        stop(proc)


@pytest.mark.integration
def test_openai_provider_streams_a_cited_answer(model_server, tmp_path, embedder):
    settings = Settings.from_toml(DEFAULT_CONFIG, store={"path": tmp_path / "store"})
    assistant = Assistant(openai_settings(settings, model_server), embedder=embedder)
    assert not assistant.ingest([SEEDS]).failed

    events = list(assistant.stream(QUESTION, today=TODAY))

    tokens = [e.text for e in events if isinstance(e, Token)]
    answer = events[-1]
    assert len(tokens) > 3, tokens  # streamed, not one block
    assert not answer.abstained, answer.abstain_reason
    assert answer.model == "qwen"
    assert any(SUPPORT in c.quote for c in answer.citations), [c.quote for c in answer.citations]
    assert answer.timings["ttft_s"] < answer.timings["total_s"]
