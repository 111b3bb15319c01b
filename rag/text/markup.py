"""Markup in the model's answer: images, links, tags and URLs that prose does not need."""

from __future__ import annotations

import re
from functools import lru_cache

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


# ---- links in text shown to users -----------------------------------------------------------

_URL_LIKE = re.compile(
    r"(?:\b(?:https?|ftps?|sftp|file|javascript|vbscript|data|mailto):(?://)?"
    r"|\bwww\d{0,3}\."
    r"|\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?=/))"
    r"[^\s<>\"'`]*",
    re.IGNORECASE,
)
_LINK_TAIL = ".,;:!?)]}'\""


@lru_cache(maxsize=64)
def link_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of every URL-like run in ``text``: schemes, ``www.`` hosts, host/path."""
    spans = []
    for m in _URL_LIKE.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in _LINK_TAIL:
            end -= 1
        if end > m.start():
            spans.append((m.start(), end))
    return tuple(spans)


def defang(text: str, start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` with every link made unusable: ``hxxps[:]//evil[.]example/x``.

    Links are found in the whole of ``text``, so a slice of a link is defanged too (a
    source card cuts article text around a quote). Nothing else changes.
    """
    end = len(text) if end is None else end
    out, at = [], start
    for s, e in link_spans(text):
        if e <= start or s >= end:
            continue
        out.append(text[at : max(s, at)])
        for i in range(max(s, start), min(e, end)):
            ch = text[i]
            if ch == ".":
                ch = "[.]"
            elif ch == ":":
                ch = "[:]"
            elif i - s in (1, 2) and text[s : s + 4].lower() == "http":
                ch = "X" if ch.isupper() else "x"
            out.append(ch)
        at = min(e, end)
    out.append(text[at:end])
    return "".join(out)
