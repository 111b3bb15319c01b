"""The model saying the passages do not answer."""

from __future__ import annotations

import re

# ---- the model saying it has no answer ------------------------------------------------------

_REFUSAL = re.compile(
    r"\b(articles?|passages?|context|information)\b[^.]{0,40}\b(don'?t|do not|does not|doesn'?t"
    r"|did not|didn'?t)\b[^.]{0,20}\b(say|mention|contain|provide|answer|include|state)"
    r"|\bno (information|mention)\b|\bnot (mentioned|specified|provided|stated)\b"
    r"|\bcannot (be )?(answer|determine)",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """Whether the model's reply says the passages do not answer."""
    return not text.strip() or bool(_REFUSAL.search(text))
