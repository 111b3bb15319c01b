"""Settings -> a LangChain chat model. The only module that imports llama_cpp.

``provider = "llama"`` runs the packaged GGUF in-process with llama-cpp-python;
``provider = "openai"`` talks to any OpenAI-compatible server (vLLM, Ollama, llama.cpp's
server, OpenAI) through ``langchain-openai``. Tests pass a scripted fake chat model instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from rag import probe
from rag.config import LLMSettings
from rag.errors import ModelBusyError, ModelError
from rag.models import packaged_gguf_path, physical_cores

logger = logging.getLogger(__name__)

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}
# A prompt head (system prompt + the chat template around it) shorter than this is not worth
# a saved KV state.
_MIN_PREFIX_TOKENS = 32


@contextlib.contextmanager
def _context_errors(n_ctx: int) -> Iterator[None]:
    """llama-cpp's "exceed context window" ``ValueError`` as a ``ModelError`` users can read."""
    try:
        yield
    except ValueError as ex:
        if "context window" not in str(ex):
            raise
        raise ModelError(
            f"The prompt does not fit the model's context window (llm.n_ctx = {n_ctx:,}): {ex}. "
            "Ask a shorter question or lower answer.context_tokens."
        ) from ex


class ResponseCache(Protocol):
    """Stored model responses by prompt key (see ``LlamaCppChat.response_cache``)."""

    def get(self, key: str) -> str | None:
        """The response stored for ``key``, if any."""

    def put(self, key: str, text: str) -> None:
        """Store ``text`` as the response for ``key``."""


class LlamaCppChat(BaseChatModel):
    """A chat model over one in-process ``llama_cpp.Llama``.

    A llama.cpp context serves one request at a time, so every call holds a lock for its
    whole duration (streams included). llama-cpp-python keeps the KV cache of the previous
    prompt and reuses its longest common prefix, so a fixed system prompt is evaluated once.
    That reuse is lost as soon as a call with another system prompt comes in between (a
    follow-up question is condensed first, with its own prompt), so the KV state of each
    prompt head (everything before the last message's content) is also kept, for the
    ``prefix_states`` most recent heads, and restored when the live cache shares less of the
    prompt (a few MB each; bench/results/answer.json measures the effect).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 2
    temperature: float = 0.0
    max_tokens: int = 256
    seed: int = 0
    prefix_states: int = 4
    # Read the weights into memory instead of mapping the file: llama.cpp repacks most CPU
    # weights into its own buffers, and with mmap the file pages it read stay resident too,
    # so the weights counted twice in RSS (1969 MB against 1378 MB after loading the packaged
    # model; see bench/results/footprint.json). Costs ~1 s more to load.
    use_mmap: bool = False
    stop: list[str] | None = None
    """Stop sequences of every call, besides a call's own ``stop``."""

    # Replays the model's text for a prompt it has answered before (``rag eval --llm-cache``,
    # for tuning the rules that act after the model); None in the product.
    response_cache: Any = None  # a ResponseCache

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _formatter: Any = PrivateAttr(default=None)
    _heads: OrderedDict[tuple[int, ...], bytes] = PrivateAttr(default_factory=OrderedDict)
    _last_prompt: dict[str, int] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """LangChain's standard tracing parameters (its standard tests check them)."""
        params = super()._get_ls_params(stop=stop or self.stop, **kwargs)
        model = kwargs.get("model")
        params["ls_provider"] = "llama-cpp"
        params["ls_model_name"] = model if isinstance(model, str) else Path(self.model_path).name
        params["ls_temperature"] = self.temperature
        params["ls_max_tokens"] = self.max_tokens
        return params

    @property
    def llama(self) -> Any:
        """The loaded model (loaded on first use)."""
        if self._llama is None:
            from llama_cpp import Llama

            logger.info("loading %s", self.model_path)
            self._llama = Llama(
                model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_threads_batch=self.n_threads, n_batch=512, seed=self.seed, verbose=False,
                use_mmap=self.use_mmap,
            )  # fmt: skip
        return self._llama

    @property
    def last_prompt(self) -> dict[str, int]:
        """Tokens of the last prompt: ``prompt_tokens`` and ``reused_tokens`` (not evaluated)."""
        return dict(self._last_prompt)

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
            "stop": [*(self.stop or []), *(stop or [])],
            "seed": self.seed,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self._params(messages, stop)
        text = self._cached(params)
        if text is None:
            with self._lock, _context_errors(self.n_ctx):
                self._prepare(params["messages"])
                out = self.llama.create_chat_completion(**params)
            text = out["choices"][0]["message"]["content"] or ""
            self._remember(params, text)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        params = self._params(messages, stop)
        cached = self._cached(params)
        if cached is not None:
            yield ChatGenerationChunk(message=AIMessageChunk(content=cached))
            return
        pieces: list[str] = []
        with self._lock, _context_errors(self.n_ctx):
            self._prepare(params["messages"])
            stream = self.llama.create_chat_completion(**params, stream=True)
            for part in stream:
                delta = part["choices"][0]["delta"].get("content")
                if delta:
                    pieces.append(delta)
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk
        self._remember(params, "".join(pieces))

    # ---- replayed responses (eval only) --------------------------------------------------

    def _cache_key(self, params: dict[str, Any]) -> str:
        name = Path(self.model_path).name
        return hashlib.sha256(json.dumps([name, params], sort_keys=True).encode()).hexdigest()

    def _cached(self, params: dict[str, Any]) -> str | None:
        if self.response_cache is None:
            return None
        text = self.response_cache.get(self._cache_key(params))
        if text is not None:
            self._last_prompt = {"replayed": 1}
        return text

    def _remember(self, params: dict[str, Any], text: str) -> None:
        if self.response_cache is not None:
            self.response_cache.put(self._cache_key(params), text)

    # ---- prompt-head KV states -----------------------------------------------------------

    def _prepare(self, messages: list[dict[str, str]]) -> None:
        """Make the live KV cache hold as much of this prompt as a saved head allows."""
        self._last_prompt = {}
        try:
            tokens, head = self._prompt_tokens(messages)
        except Exception:  # an unusual chat template: plain llama-cpp-python behaviour
            logger.debug("cannot format the prompt for prefix reuse", exc_info=True)
            return
        llama = self.llama
        live = _common_prefix(llama.input_ids[: llama.n_tokens], tokens)
        reused = min(live, len(tokens) - 1)
        if self.prefix_states > 0 and head >= _MIN_PREFIX_TOKENS and live < head:
            key = tuple(tokens[:head])
            state = self._heads.get(key)
            if state is not None and self._restore(key, state):
                self._heads.move_to_end(key)
                reused = head
            elif state is None:
                self._save_head(key, live)
        self._last_prompt = {"prompt_tokens": len(tokens), "reused_tokens": reused}

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> tuple[list[int], int]:
        """The prompt's tokens as llama-cpp-python builds them, and the length of its head."""
        llama = self.llama
        if self._formatter is None:
            from llama_cpp import llama_chat_format

            template = llama.metadata.get("tokenizer.chat_template")
            if llama.chat_handler is not None or llama.chat_format != "chat_template.default":
                raise ValueError(f"chat format {llama.chat_format!r} is not a GGUF template")
            eos_id, bos_id = llama.token_eos(), llama.token_bos()
            self._formatter = llama_chat_format.Jinja2ChatFormatter(
                template=template, stop_token_ids=[eos_id],
                eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
                bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
            )  # fmt: skip
        result = self._formatter(messages=messages)
        add_bos = not result.added_special
        tokens = llama.tokenize(result.prompt.encode("utf-8"), add_bos=add_bos, special=True)
        last = messages[-1]["content"] if messages else ""
        cut = result.prompt.rfind(last) if last else -1
        if cut <= 0:
            return tokens, 0
        head = llama.tokenize(result.prompt[:cut].encode("utf-8"), add_bos=add_bos, special=True)
        return tokens, _common_prefix(head, tokens)

    def _save_head(self, key: tuple[int, ...], live: int) -> None:
        """Evaluate the head on top of what the cache already shares, and keep its state."""
        import llama_cpp

        llama = self.llama
        if live > 0 and llama._ctx.kv_cache_seq_rm(-1, live, -1):
            llama.n_tokens = live
        else:
            llama.reset()
            llama._ctx.kv_cache_clear()
        llama.eval(list(key[llama.n_tokens :]))
        ctx = llama._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        if not written:
            return
        self._heads[key] = bytes(buffer)[:written]
        while len(self._heads) > self.prefix_states:
            self._heads.popitem(last=False)

    def _restore(self, key: tuple[int, ...], state: bytes) -> bool:
        import llama_cpp

        llama = self.llama
        llama._ctx.kv_cache_clear()
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(state), 0) != len(state):
            logger.warning("could not restore a saved prompt head; evaluating it again")
            llama.reset()
            llama._ctx.kv_cache_clear()
            return False
        llama.input_ids[: len(key)] = key
        llama.n_tokens = len(key)
        llama._requires_eval = True
        return True


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def model_path(settings: LLMSettings) -> Path:
    """The GGUF file of the in-process model (the packaged one is assembled on first use)."""
    path = packaged_gguf_path() if settings.model == "packaged" else Path(settings.model)
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    return path


def load(settings: LLMSettings) -> BaseChatModel:
    """Build the configured chat model (the packaged GGUF is assembled on first use).

    The in-process model is first run once in a child process (``probe``), so a library
    that crashes on this CPU is reported in one line instead of killing this process.
    """
    if settings.provider == "llama":
        path = model_path(settings)
        probe.ensure_model_runs(path)
        return LlamaCppChat(
            model_path=str(path), n_ctx=settings.n_ctx,
            n_threads=settings.n_threads or physical_cores(), temperature=settings.temperature,
            max_tokens=settings.max_tokens, seed=settings.seed,
        )  # fmt: skip
    if settings.provider == "openai":
        return _openai(settings)
    raise ModelError(f"LLM provider {settings.provider!r} cannot be built from config")


def read_test_prompt(path: Path, tokens: int = 300) -> str:
    """Load the model and read a prompt of ~``tokens`` tokens (what ``probe`` runs in a child).

    Long enough for llama.cpp to take its batched matrix paths (repacked or AMX buffers),
    which a prompt of a few tokens does not reach.
    """
    from llama_cpp import Llama

    llama = Llama(model_path=str(path), n_ctx=1024, n_batch=512, n_threads=physical_cores(),
                  verbose=False)  # fmt: skip
    sentence = "The council met on Tuesday and agreed to repair the old bridge before winter. "
    prompt = llama.tokenize((sentence * 40).encode(), add_bos=True)[:tokens]
    llama.eval(prompt)
    return f"read {len(prompt)} prompt tokens"


def _openai(settings: LLMSettings) -> BaseChatModel:
    try:
        chat_class = _openai_chat_class()
    except ImportError as ex:
        raise ModelError("provider 'openai' needs: pip install 'newsqa[openai]'") from ex
    key = os.environ.get(settings.api_key_env)
    if not key and not settings.base_url:
        raise ModelError(f"set the API key in ${settings.api_key_env} (or give llm.base_url)")
    # OpenAI itself wants max_completion_tokens; llama.cpp's server, Ollama and older vLLM
    # read only max_tokens and ignore the other, which would leave the answer unbounded.
    limit: dict[str, Any] = (
        {"extra_body": {"max_tokens": settings.max_tokens}} if settings.base_url
        else {"max_completion_tokens": settings.max_tokens}
    )  # fmt: skip
    return chat_class(
        model=settings.model, base_url=settings.base_url, api_key=key or "not-needed",
        temperature=settings.temperature, seed=settings.seed, timeout=120, max_retries=1,
        **limit,
    )  # fmt: skip


@functools.cache
def _openai_chat_class() -> Callable[..., BaseChatModel]:
    """``ChatOpenAI`` whose failures are ``ModelError``s naming the server (built lazily).

    The openai client's own errors ("Connection error.") do not say which server was meant,
    and they are not ``RagError``s, so the UI and the REST API would report them as internal
    errors instead of telling the user to start or fix the model server.
    """
    from langchain_openai import ChatOpenAI

    class OpenAIChat(ChatOpenAI):
        """A chat model on an OpenAI-compatible server."""

        def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
            with _reaching(self.openai_api_base):
                return super()._generate(*args, **kwargs)

        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            with _reaching(self.openai_api_base):
                yield from super()._stream(*args, **kwargs)

    return OpenAIChat


@contextlib.contextmanager
def _reaching(base_url: str | None) -> Iterator[None]:
    """Turn the openai client's connection and HTTP errors into ``ModelError``s."""
    import openai

    where = base_url or "api.openai.com"
    try:
        yield
    except openai.APIConnectionError as ex:  # refused, DNS, timeouts
        raise ModelError(f"cannot reach the model server at {where} ({ex})") from ex
    except openai.APIStatusError as ex:
        detail = str(ex.message)[:200]
        error = ModelBusyError if ex.status_code in (429, 503) else ModelError
        raise error(f"the model server at {where} answered {ex.status_code}: {detail}") from ex


if __name__ == "__main__":  # the child process of ``probe.ensure_model_runs``
    import sys

    sys.stdout.write(read_test_prompt(Path(sys.argv[1])) + "\n")
