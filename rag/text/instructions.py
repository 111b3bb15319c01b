"""Sentences in articles that talk to the assistant instead of reporting news."""

from __future__ import annotations

import re

# ---- instructions injected into articles ----------------------------------------------------

# Sentences that talk to the assistant rather than report news: an article may carry them
# to steer the model (prompt injection). They never reach the prompt, so the model cannot
# obey them and verification cannot find them in a passage if the model repeats them.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,30}\b(previous|prior|above|earlier|all|your"
    r"|any|these|the)\b.{0,20}\b(instructions?|prompts?)\b"
    r"|\b(system prompt|your (instructions|prompt|rules))\b"
    r"|\b(to|dear|attention|hey)\s+(the\s+)?(ai|assistant|chatbot|language model|llm)\b"
    r"|\b(assistant|ai|chatbot|model)\s*[,:]\s*(please\s+)?(always|never|ignore|say|add|reply"
    r"|respond|print|reveal|include|end|show|answer|output)\b"
    r"|\bwhen (you are )?asked\b.{0,80}\b(say|answer|reply|respond)\b"
    r"|\b(every|each|all|your) (answers?|responses?|replies)\b.{0,40}\b(with|must|should)\b"
    r"|\b(the|your|every|each) (answer|response|reply)\b.{0,30}\b(add|include|append|show|end)\b"
    r"|\bcode ?word\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """Whether an article sentence addresses the assistant (an injection, not news)."""
    return bool(_INSTRUCTION.search(sentence))
