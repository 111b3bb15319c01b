"""Answers, changes and timelines as plain text for the terminal."""

from __future__ import annotations

import textwrap

from rag.cli.options import iso
from rag.text import defang
from rag.types import Answer, Timeline


def render(result: Answer) -> str:
    """A plain-text answer with its numbered sources, the freshness note and disagreements."""
    lines = [result.text]
    if result.abstained and result.abstain_reason:
        lines.append(f"({result.abstain_reason})")
    if result.freshness:
        lines.append(f"Note: {result.freshness.text}")
    lines += [defang(d.text) for d in result.disagreements]  # they quote article text
    for c in result.citations:
        lines.append(f"\n[{c.n}] {c.title} ({iso(c.published)}){' - ' + c.url if c.url else ''}")
        # The quote is exact article text; a link in it is shown defanged, never usable.
        lines.append(textwrap.indent(textwrap.fill(f"“{defang(c.quote)}”", 96), "    "))
    return "\n".join(lines)


def render_timeline(result: Timeline) -> str:
    """A plain-text timeline: date, title (or heading) and the event's sentence, oldest first."""
    if not result.events:
        return f"No timeline for “{result.topic}”: {result.reason}."
    lines = []
    for e in result.events:
        lines.append(f"{iso(e.published)}  {e.heading or e.title}")
        lines.append(textwrap.indent(textwrap.fill(f"“{defang(e.quote)}”", 92), "    "))
        if len(e.sources) > 1:
            also = "; ".join(f"{s.title} ({iso(s.published)})" for s in e.sources[1:])
            lines.append(textwrap.indent(textwrap.fill(f"also reported by: {also}", 92), "    "))
    return "\n".join(lines)
