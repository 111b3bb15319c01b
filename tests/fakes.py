"""Test doubles that are more than a script of replies."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

_PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.M)  # "[n] text" in an <article> block


class QuotingChatModel(BaseChatModel):
    """Answers by quoting, from the passages in its prompt, the sentence holding each phrase.

    Every quoted sentence is cited with the number of the passage it came from, so the
    answer is right whatever order the passages are shown in. Phrases found in no passage
    are left out; with none found it refuses. ``calls`` counts the prompts it was given.
    """

    phrases: Sequence[str] = ()
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "quoting-fake"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.calls += 1
        passages = _PASSAGE.findall(str(messages[-1].content))
        said = []
        for phrase in self.phrases:
            for n, body in passages:
                if phrase in body:
                    sentence = re.search(rf"[^.!?\n]*{re.escape(phrase)}[^.!?\n]*[.!?]?", body)
                    assert sentence is not None
                    said.append(f"{sentence.group().strip().rstrip('.')} [{n}].")
                    break
        reply = " ".join(said) or "The articles don't say."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])
