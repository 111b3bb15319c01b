"""`rag serve` with fake models, for tests that need the app over HTTP (run as a script).

    serve_child.py serve --store STORE --port PORT [--ingest PATH]...

The arguments are those of ``rag serve``; the command line, ``ui.server.serve`` and the whole
pipeline are the real ones. Only the models are replaced: ``KeywordEmbedder`` (the real
tokenizer, hashed keywords) and the real ``LlamaCppChat`` over ``FakeLlama``, which answers
with the passage sentence that matches the question best, cited
(``relkit.quote_best_sentence``), and takes a follow-up question as it is. Two
words in a question change the reply:

* ``HOLD``: the answer waits until the file ``$NEWSQA_TEST_GATE`` exists (it keeps the one
  model slot busy, so that tests can fill the queue behind it);
* ``gallery``: the answer quotes every passage (so each becomes a source card) and carries
  the markup of ``relkit.HOSTILE_MARKUP``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relkit import (  # noqa: E402
    HOSTILE_MARKUP,
    FakeLlama,
    KeywordEmbedder,
    fake_llama_chat,
    passages_in,
    quote_best_sentence,
    quote_first_sentence,
)

import rag.embed  # noqa: E402
import rag.llm  # noqa: E402
from rag.cli import cli  # noqa: E402

GATE_ENV = "NEWSQA_TEST_GATE"
GATE_TIMEOUT_S = 120


def reply(prompt: str) -> str:
    """The fake model's answer to a prompt (see the module docstring)."""
    condense = re.search(r"Last question: (.*)\n\nStandalone question:", prompt, re.S)
    if condense:  # a follow-up: it stands alone as it is
        return condense.group(1)
    question = re.search(r"^Question: (.*)$", prompt, re.M)
    asked = question.group(1) if question else ""
    answer = quote_best_sentence(prompt)
    if "HOLD" in asked and (gate := os.environ.get(GATE_ENV)):
        deadline = time.monotonic() + GATE_TIMEOUT_S
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    if "gallery" in asked.casefold():
        quotes = [quote_first_sentence(f"Today is now.\n[{n}] {body}")
                  for n, body in passages_in(prompt)]  # fmt: skip
        answer = " ".join([*quotes, f"It showed {HOSTILE_MARKUP} [1]."])
    return answer


def main() -> None:
    embedder = KeywordEmbedder()
    backend = FakeLlama(reply=reply, token_delay=0.002)
    rag.embed.load = lambda settings: embedder  # type: ignore[assignment]
    rag.llm.load = lambda settings: fake_llama_chat(backend)  # type: ignore[assignment]
    cli(sys.argv[1:], prog_name="rag")


if __name__ == "__main__":
    main()
