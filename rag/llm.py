"""Settings -> a LangChain chat model. The only module that imports llama_cpp.

``provider = "llama"`` runs the packaged GGUF in-process with llama-cpp-python;
``provider = "openai"`` talks to any OpenAI-compatible server (vLLM, Ollama, llama.cpp's
server, OpenAI) through ``langchain-openai``. Tests pass a scripted fake chat model instead.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from rag.config import LLMSettings
from rag.errors import ModelError
from rag.models import packaged_gguf_path, physical_cores

logger = logging.getLogger(__name__)

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


class LlamaCppChat(BaseChatModel):
    """A chat model over one in-process ``llama_cpp.Llama``.

    A llama.cpp context serves one request at a time, so every call holds a lock for its
    whole duration (streams included). llama-cpp-python keeps the KV cache of the previous
    prompt and reuses its longest common prefix, so a fixed system prompt is evaluated once.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 2
    temperature: float = 0.0
    max_tokens: int = 256
    seed: int = 0

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def llama(self) -> Any:
        """The loaded model (loaded on first use)."""
        if self._llama is None:
            from llama_cpp import Llama

            logger.info("loading %s", self.model_path)
            self._llama = Llama(
                model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_threads_batch=self.n_threads, n_batch=512, seed=self.seed, verbose=False,
            )  # fmt: skip
        return self._llama

    def get_num_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own vocabulary."""
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _params(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "messages": [
                {"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages
            ],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": stop or [],
            "seed": self.seed,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            out = self.llama.create_chat_completion(**self._params(messages, stop))
        text = out["choices"][0]["message"]["content"] or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            stream = self.llama.create_chat_completion(**self._params(messages, stop), stream=True)
            for part in stream:
                delta = part["choices"][0]["delta"].get("content")
                if delta:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk


def load(settings: LLMSettings) -> BaseChatModel:
    """Build the configured chat model (the packaged GGUF is assembled on first use)."""
    if settings.provider == "llama":
        path = packaged_gguf_path() if settings.model == "packaged" else Path(settings.model)
        if not path.exists():
            raise ModelError(f"model file not found: {path}")
        return LlamaCppChat(
            model_path=str(path), n_ctx=settings.n_ctx,
            n_threads=settings.n_threads or physical_cores(), temperature=settings.temperature,
            max_tokens=settings.max_tokens, seed=settings.seed,
        )  # fmt: skip
    if settings.provider == "openai":
        return _openai(settings)
    raise ModelError(f"LLM provider {settings.provider!r} cannot be built from config")


def _openai(settings: LLMSettings) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as ex:
        raise ModelError("provider 'openai' needs: pip install 'newsqa[openai]'") from ex
    key = os.environ.get(settings.api_key_env)
    if not key and not settings.base_url:
        raise ModelError(f"set the API key in ${settings.api_key_env} (or give llm.base_url)")
    return ChatOpenAI(
        model=settings.model, base_url=settings.base_url, api_key=key or "not-needed",
        temperature=settings.temperature, max_completion_tokens=settings.max_tokens,
        timeout=120, max_retries=1,
    )  # fmt: skip
