"""LangChain's own standard tests (``langchain-tests``) for the components we expose.

* ``HybridRetriever`` (``Assistant.as_retriever``): ``RetrieversIntegrationTests``, over a
  store of the test articles and the seed article, with the real packaged embedder;
* ``Embedder`` (``Assistant.embedder``, a LangChain ``Embeddings``): ``EmbeddingsUnitTests``
  and ``EmbeddingsIntegrationTests`` on the packaged all-MiniLM-L6-v2;
* ``LlamaCppChat`` (``Assistant.llm``, a ``BaseChatModel``): ``ChatModelUnitTests``, and
  ``ChatModelIntegrationTests`` on the packaged model (integration: real LLM).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, SEEDS
from langchain_tests.integration_tests import (
    ChatModelIntegrationTests,
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
)
from langchain_tests.unit_tests import ChatModelUnitTests, EmbeddingsUnitTests

from rag import embed
from rag.assistant import Assistant
from rag.config import LLMSettings, Settings, StoreSettings
from rag.interop import HybridRetriever
from rag.llm import LlamaCppChat, model_path
from rag.models import packaged_embedding_path


@pytest.fixture(scope="module")
def news_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: embed.Embedder) -> Assistant:
    """The three test articles and the seed article, indexed (no LLM: retrieval only)."""
    store = tmp_path_factory.mktemp("standard") / "store"
    assistant = Assistant(Settings(store=StoreSettings(path=store)), embedder=embedder)
    report = assistant.ingest([DATA, SEEDS])
    assert not report.failed, report.failed
    return assistant


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _assistant(self, news_assistant: Assistant) -> None:
        self.assistant = news_assistant

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"assistant": self.assistant}

    @property
    def retriever_query_example(self) -> str:
        return "Why did Ukraine want Patriot systems?"


def _embedding_params() -> dict[str, Any]:
    path: Path = packaged_embedding_path()
    return {"model_name": str(path), "model_kwargs": {"local_files_only": True}}


class TestEmbedderUnitStandard(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[embed.Embedder]:
        return embed.Embedder

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return _embedding_params()


class TestEmbedderStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[embed.Embedder]:
        return embed.Embedder

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return _embedding_params()


def test_invoke_k_keyword_overrides_the_field_for_one_call(news_assistant):
    retriever = news_assistant.as_retriever(k=4)
    assert len(retriever.invoke("Why did Ukraine want Patriot systems?", k=1)) == 1
    assert len(retriever.invoke("Why did Ukraine want Patriot systems?")) == 4
    with pytest.raises(TypeError):
        retriever.invoke("Patriot", kk=1)


# ---- the chat model: LlamaCppChat (Assistant.llm with the default config) --------------------


class TestLlamaCppChatUnitStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[LlamaCppChat]:
        return LlamaCppChat

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_path": "model.gguf"}  # nothing is loaded until the first call


_LOADED: dict[str, LlamaCppChat] = {}


@pytest.mark.integration
class TestLlamaCppChatStandard(ChatModelIntegrationTests):
    """The packaged model through LangChain's standard chat-model tests (no tools, images)."""

    @property
    def chat_model_class(self) -> type[LlamaCppChat]:
        return LlamaCppChat

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_path": str(model_path(LLMSettings())), "n_ctx": 2048}

    @property
    def returns_usage_metadata(self) -> bool:
        return False

    @pytest.fixture(autouse=True, scope="class")
    def _free_models(self) -> Iterator[None]:
        """Free the loaded models while the interpreter is still whole."""
        yield
        _LOADED.clear()

    @pytest.fixture
    def model(self, request: Any) -> LlamaCppChat:
        """One loaded model for the class (the standard fixture loads one per test)."""
        extra = getattr(request, "param", None) or {}
        params = {**self.standard_chat_model_params, **self.chat_model_params, **extra}
        key = repr(sorted(params.items()))
        if key not in _LOADED:
            _LOADED[key] = LlamaCppChat(**params)
        return _LOADED[key]
