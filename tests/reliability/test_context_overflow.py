"""Issue 7, item 7: question + history + passages never overflow the model's context.

The chat model is the real ``LlamaCppChat`` over a fake llama.cpp context that counts prompt
tokens with the packaged GGUF's own tokenizer (loaded ``vocab_only``: no weights), records
every prompt, and raises llama-cpp-python's ``ValueError`` when a prompt does not fit in
``n_ctx``. A prompt must also leave ``max_tokens`` for the answer. The budget, in the model's
tokens: passages get ``min(answer.context_tokens, n_ctx - max_tokens - prompt - 64)`` (the
first passage too: it is cut to fit), the history what the condense prompt leaves (its
latest turn cut to fit), a question at most half the room (else a one-line error); an
overflow the budget still misses is a ``ModelError`` (``rag/assistant.py``, ``rag/context.py``,
``rag/answer.py``, ``rag/llm.py``).
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from relkit import FakeLlama, fake_llama_chat, quote_first_sentence, real_vocab

from rag.answer import format_history
from rag.assistant import Assistant
from rag.config import LLMSettings, Settings, StoreSettings
from rag.context import fit_tokens
from rag.errors import InvalidQuestionError, ModelError
from rag.store import LocalStore, Store

DATA = Path(__file__).parent.parent / "data" / "articles"
MAX_QUESTION_CHARS = Settings().answer.max_question_chars
TODAY = date(2024, 12, 1)
BRIDGE_Q = "When did the Harbour Bridge open to traffic?"
HEAVY = "\U00020000"  # a CJK Extension B ideograph: 3 tokens a character in Qwen's vocabulary


def _reply(prompt: str) -> str:
    condense = re.search(r"Last question: (.*)\n\nStandalone question:", prompt, re.S)
    return condense.group(1) if condense else quote_first_sentence(prompt)


@pytest.fixture(scope="module")
def count():
    vocab = real_vocab()
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))


@pytest.fixture(scope="module")
def store(tmp_path_factory, embedder) -> Iterator[Store]:
    """The test articles, ingested once for the module (tests that add articles use their own)."""
    path = tmp_path_factory.mktemp("overflow") / "store"
    store = LocalStore(path)
    settings = Settings(store=StoreSettings(path=path))
    assert not Assistant(settings, embedder=embedder, store=store).ingest([DATA]).failed
    yield store
    store.close()


def _assistant(store: Store, embedder, count, **llm: int) -> tuple[Assistant, FakeLlama]:
    settings = Settings(store=StoreSettings(path=store.path), llm=LLMSettings(**llm))
    backend = FakeLlama(reply=_reply, n_ctx=settings.llm.n_ctx, count=count)
    chat = fake_llama_chat(backend, max_tokens=settings.llm.max_tokens)
    return Assistant(settings, llm=chat, embedder=embedder, store=store), backend


def _assert_fits(backend: FakeLlama, max_tokens: int) -> None:
    assert backend.prompts, "the model was never asked"
    for _, tokens in backend.prompts:
        assert tokens + max_tokens <= backend.n_ctx, f"{tokens} prompt tokens + {max_tokens}"


def test_long_history_is_trimmed_to_fit(store, embedder, count):
    assistant, backend = _assistant(store, embedder, count)
    history = [
        (f"Old question number {i} about the harbour? " * 8,
         f"Old answer number {i} [1]. " + "It went on and on about the bridge [2]. " * 40)
        for i in range(80)
    ]  # fmt: skip
    history.append(("Which bakery won the national bread award?", "The Okafor bakery [1]."))

    ans = assistant.ask("And how many loaves does it sell on a Saturday?", history=history,
                        today=TODAY)  # fmt: skip

    assert ans.text
    _assert_fits(backend, 256)
    condense = backend.prompts[0][0][-1]["content"]
    assert "Last question: And how many loaves" in condense
    assert "Okafor bakery" in condense  # the latest turn is kept...
    assert "Old question number 0 " not in condense  # ... the oldest are dropped
    assert len(condense) < 4000


def test_longest_allowed_question_fits(store, embedder, count):
    assistant, backend = _assistant(store, embedder, count)
    question = (BRIDGE_Q + " ") * (MAX_QUESTION_CHARS // (len(BRIDGE_Q) + 1))
    assert len(question.strip()) <= MAX_QUESTION_CHARS

    ans = assistant.ask(question, today=TODAY)

    assert ans.text
    _assert_fits(backend, 256)


def test_question_of_many_token_characters_is_refused_before_the_model(store, embedder, count):
    assistant, backend = _assistant(store, embedder, count)
    question = BRIDGE_Q + " " + HEAVY * (MAX_QUESTION_CHARS - len(BRIDGE_Q) - 1)
    # Few enough characters to pass the length check, too many tokens to leave room for passages.
    assert len(question) <= MAX_QUESTION_CHARS < count(question)

    too_long = r"^The question is too long for the model \([\d,]+ tokens; at most [\d,]+\)\."
    with pytest.raises(InvalidQuestionError, match=too_long):
        assistant.ask(question, today=TODAY)
    assert backend.prompts == []


def test_history_of_many_token_characters_is_trimmed_to_fit(store, embedder, count):
    assistant, backend = _assistant(store, embedder, count)
    history = [(HEAVY * 1400, HEAVY * 1400)]  # ~8,400 tokens: twice the model's context

    ans = assistant.ask("And how long is the Harbour Bridge?", history=history, today=TODAY)

    assert ans.text
    _assert_fits(backend, 256)
    condense = backend.prompts[0][0][-1]["content"]
    assert "Last question: And how long is the Harbour Bridge?" in condense
    assert 0 < condense.count(HEAVY) < 2 * 1400  # the turn is cut, not dropped or kept whole


def test_passage_longer_than_the_budget_is_cut_to_fit(tmp_path, embedder, count):
    own = LocalStore(tmp_path / "store")
    assistant, backend = _assistant(own, embedder, count)
    assert assistant.ingest([DATA]).added
    rng = random.Random(0)
    codes = " ".join(
        "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(110))
        for _ in range(150)
    )
    leak = tmp_path / "leak.md"
    leak.write_text(f"# Launch codes leaked\n2024-06-01\n\nThe leaked file lists the launch "
                    f"codes {codes}.\n")  # fmt: skip
    assert assistant.ingest([leak]).added
    assert count(codes) > 4096

    ans = assistant.ask("Which launch codes does the leaked file list?", today=TODAY)

    assert ans.text
    _assert_fits(backend, 256)


def test_passage_budget_follows_a_small_model_context(store, embedder, count):
    assistant, backend = _assistant(store, embedder, count, n_ctx=768, max_tokens=256)
    ans = assistant.ask(
        "What happened at the Harbour Bridge, the bakery and the cup final?", today=TODAY
    )
    assert ans.text
    _assert_fits(backend, 256)


def test_an_overflow_the_budget_missed_is_a_clear_error(store, embedder, count):
    assistant, backend = _assistant(store, embedder, count)
    backend.n_ctx = 200  # the model's real context is smaller than configured
    with pytest.raises(ModelError) as raised:
        assistant.ask(BRIDGE_Q, today=TODAY)
    assert type(raised.value) is ModelError  # not "busy" or "unreachable"
    message = str(raised.value)
    assert message.startswith("The prompt does not fit the model's context window"), message
    assert "exceed context window of 200" in message and "Ask a shorter question" in message


def test_fit_tokens_keeps_whole_words_from_either_end():
    def count(text: str) -> int:
        return len(text.split())

    text = "one two three four five six seven"
    assert fit_tokens(text, 3, count) == "one two three"
    assert fit_tokens(text, 3, count, from_end=True) == "five six seven"
    assert fit_tokens(text, 99, count) == text and fit_tokens(text, 0, count) == ""
    history = [("Old question?", "Old answer [1]."), ("New question?", "New answer [2].")]
    latest = "User: New question?\nAssistant: New answer ."  # (7 words, and the line break)
    assert format_history(history, max_tokens=8, count=count) == latest
    assert format_history(history, max_tokens=5, count=count) == "Assistant: New answer ."
    assert format_history(history, max_tokens=0, count=count) == ""
