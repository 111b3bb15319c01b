"""Shared fixtures: the real packaged embedder, real Chroma in ``tmp_path``, a scripted LLM.

Unit tests run with sockets blocked (pytest-socket, Unix sockets allowed), so an accidental
model download fails loudly. A test that needs loopback sockets opts out with
``@pytest.mark.enable_socket``; tests marked ``browser`` opt out automatically.
``pytest --force-enable-socket`` switches the guard off for a whole run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

# tests/reliability/relkit.py, the shared helpers, is importable as `relkit` by every test.
_RELIABILITY = str(Path(__file__).resolve().parent / "reliability")
if _RELIABILITY not in sys.path:
    sys.path.insert(0, _RELIABILITY)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import pytest  # noqa: E402
import urllib3  # noqa: E402, F401  (it probes IPv6 with a socket on import: do it before the guard)
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage  # noqa: E402

from rag import embed  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.config import EmbedSettings, Settings, StoreSettings  # noqa: E402
from rag.store import Store  # noqa: E402

TESTS = Path(__file__).parent
DATA = TESTS / "data" / "articles"
SEEDS = TESTS.parent / "seeds"
BRIDGE = DATA / "bridge.md"
BAKERY = DATA / "bakery.txt"
FOOTBALL = DATA / "football.html"

FakeLLM = Callable[..., GenericFakeChatModel]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Runs before pytest-socket reads its options: --disable-socket --allow-unix-socket.
    config.option.disable_socket = True
    config.option.allow_unix_socket = True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.enable_socket)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's config or writes to their store."""
    monkeypatch.delenv("NEWSQA_CONFIG", raising=False)
    monkeypatch.delenv("NEWSQA_STORE_URL", raising=False)
    monkeypatch.setenv("NEWSQA_STORE", str(tmp_path / "default-store"))


@pytest.fixture(scope="session")
def embedder() -> embed.Embedder:
    """The real packaged all-MiniLM-L6-v2 (offline, ~3 s), shared by every test."""
    return embed.load(EmbedSettings())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store=StoreSettings(path=tmp_path / "store"))


@pytest.fixture
def fake_llm() -> FakeLLM:
    """``fake_llm("reply 1", "reply 2")``: a chat model that answers with these, in order.

    With no replies, any call fails: use it to prove the LLM was not called.
    """

    def make(*replies: str) -> GenericFakeChatModel:
        return GenericFakeChatModel(messages=iter([AIMessage(content=r) for r in replies]))

    return make


@pytest.fixture
def make_assistant(
    settings: Settings, embedder: embed.Embedder, fake_llm: FakeLLM
) -> Callable[..., Assistant]:
    """``make_assistant(*replies)``: an Assistant over tests/data/articles with a scripted LLM."""

    def make(*replies: str, ingest: bool = True) -> Assistant:
        assistant = Assistant(settings, llm=fake_llm(*replies), embedder=embedder)
        if ingest:
            report = assistant.ingest([DATA])
            assert not report.failed, report.failed
        return assistant

    return make


STORIES = TESTS / "data" / "stories"  # developing stories (strike, mill fire, recall) + others


@pytest.fixture(scope="module")
def story_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: embed.Embedder
) -> tuple[Settings, Store]:
    """Settings and a store holding tests/data/stories, ingested once per test module."""
    settings = Settings(store=StoreSettings(path=tmp_path_factory.mktemp("stories")))
    assistant = Assistant(settings, embedder=embedder)
    report = assistant.ingest([STORIES])
    assert not report.failed, report.failed
    return settings, assistant.store


@pytest.fixture
def story_assistant(
    story_store: tuple[Settings, Store], embedder: embed.Embedder, fake_llm: FakeLLM
) -> Callable[..., Assistant]:
    """``story_assistant(*replies, llm=None)``: an Assistant over the stories' store."""

    def make(*replies: str, llm: BaseChatModel | None = None) -> Assistant:
        settings, store = story_store
        model = llm or fake_llm(*replies)
        return Assistant(settings, llm=model, embedder=embedder, store=store)

    return make
