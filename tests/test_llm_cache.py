"""``rag eval --llm-cache``: the model's answer to a prompt it has seen is replayed, not rerun."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage
from relkit import FakeLlama, fake_llama_chat

from rag.eval.cache import SqliteResponseCache

MESSAGES = [SystemMessage("Answer from the passages."), HumanMessage("[1] The ferry left at 6.")]


def test_a_seen_prompt_is_replayed_streamed_or_not(tmp_path: Path) -> None:
    backend = FakeLlama(reply=lambda prompt: "The ferry left at 6 [1].")
    chat = fake_llama_chat(backend)
    chat.response_cache = SqliteResponseCache(tmp_path / "cache.sqlite")
    first = "".join(str(c.content) for c in chat.stream(MESSAGES))
    assert len(backend.prompts) == 1
    again = "".join(str(c.content) for c in chat.stream(MESSAGES))
    assert again == first == "The ferry left at 6 [1]."
    assert chat.invoke(MESSAGES).content == first
    assert len(backend.prompts) == 1  # neither call reached the model
    chat.invoke([*MESSAGES[:1], HumanMessage("[1] The bus left at 7.")])
    assert len(backend.prompts) == 2  # another prompt does


def test_the_cache_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    SqliteResponseCache(path).put("k", "text")
    reopened = SqliteResponseCache(path)
    assert reopened.get("k") == "text" and reopened.get("other") is None
    assert (reopened.hits, reopened.misses) == (1, 1)
