"""Text that is not text: lone surrogates.

A lone surrogate (``"\\ud800"`` in JSON, an undecodable byte of a command-line argument
decoded with ``surrogateescape``) is not a character: it cannot be encoded, stored,
tokenized or printed.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate."""
    return _SURROGATE.search(text) is not None


def without_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)
