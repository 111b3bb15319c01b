"""Markup in the model's answer: images, links, tags and URLs that prose does not need."""

from __future__ import annotations

import re

# ---- markup ---------------------------------------------------------------------------------

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*[^\]\d][^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]{0,500}>")
_URL = re.compile(r"\b(?:https?|javascript|data|ftp):\S+", re.IGNORECASE)


def strip_markup(text: str) -> str:
    """Plain text: no images, no link targets, no HTML tags, no bare URLs.

    An answer is prose with ``[n]`` markers. Anything else the model writes (often because an
    article told it to) could load a remote image or carry data out through a link.
    """
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    return _URL.sub("", text)
