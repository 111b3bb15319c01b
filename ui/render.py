"""Answers, sources and upload results -> HTML for the chat (no gradio here).

Everything that comes from an article, a file or the model is untrusted: it is passed
through ``html.escape`` before it is put into markup, links are made only from http(s)
URLs of article metadata, and no image is ever emitted. A link inside article text (a quote
and its context on a source card) is defanged (``hxxps[:]//evil[.]example``): an injected
link is neither clickable nor auto-linked, nor worth copying. The chatbot renders these
strings as HTML with markdown switched off, so model output such as ``![x](http://...)``
stays plain text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from urllib.parse import urlsplit

from rag.config import ServeSettings
from rag.text import CLOSERS, SENTENCE_GAP, answer_sentences, defang
from rag.types import Answer, Changes, Citation, Disagreement, Report, Timeline, TimelineEvent

MARKER = re.compile(r"\[(\d+)\]")
EXAMPLES = [
    "Why did Ukraine want Patriot systems?",
    "What did Zelenskiy and Trump discuss on July 4?",
    "Which country was in talks to buy Patriot systems for Ukraine?",
]

_PARAGRAPHS = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class ArticleText:
    """What a source card needs from the stored article."""

    text: str
    source: str


ArticleLookup = Callable[[str], ArticleText | None]


def esc(text: object) -> str:
    """Escape untrusted text for HTML (quotes too, so it is safe in attributes)."""
    return html.escape(str(text), quote=True)


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) link, else None (no javascript:, data:, ...)."""
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in {"http", "https"} and parts.netloc else None


def source_label(url: str | None, source: str = "") -> str:
    """A short, human name for where an article came from: the site or the file name."""
    if link := safe_url(url):
        host = urlsplit(link).hostname or ""
        return host.removeprefix("www.")
    return PurePath(source).name if source else ""


def format_date(day: date | None) -> str:
    """``4 Jul 2025`` (or ``undated``)."""
    return f"{day.day} {day:%b %Y}" if day else "undated"


def anchor(turn: int | str, n: int) -> str:
    """The element id of source ``n`` of answer ``turn`` (unique within a chat)."""
    return f"nq-{turn}-{n}"


# ---- the question and the answer ------------------------------------------------------


def question_html(question: str) -> str:
    """The user's message, shown as text."""
    return f'<div class="nq-question">{_text(question)}</div>'


def pending_html(status: str) -> str:
    """A placeholder while the answer is being prepared (before the first token)."""
    return f'<div class="nq-answer nq-streaming"><span class="nq-status">{esc(status)}</span></div>'


def streaming_html(text: str) -> str:
    """The answer so far, while tokens arrive: markers become (not yet clickable) chips."""
    body = MARKER.sub(r'<span class="nq-chip nq-chip-pending">\1</span>', _text(text))
    cursor = '<span class="nq-cursor">▍</span>'
    return f'<div class="nq-answer nq-streaming"><p>{body}{cursor}</p></div>'


def stopped_html(partial: str) -> str:
    """What is left of an answer that the user stopped."""
    return f'{partial}<p class="nq-note">Stopped: this answer is incomplete.</p>'


def error_html(message: str) -> str:
    """A readable error in place of an answer."""
    return f'<div class="nq-answer nq-error" role="alert"><p>⚠ {esc(message)}</p></div>'


def answer_html(
    answer: Answer, turn: int | str, article: ArticleLookup, limits: ServeSettings | None = None
) -> str:
    """The final answer: text with clickable ``[n]`` chips, then the numbered source cards."""
    if answer.abstained:
        return abstention_html(answer)
    by_n = {c.n: c for c in answer.citations}
    parts = ['<div class="nq-answer">']
    if answer.standalone_question and answer.standalone_question != answer.question:
        parts.append(f'<p class="nq-note">Searched for: {esc(answer.standalone_question)}</p>')
    if answer.grounded is False and not _unsupported(answer):
        parts.append(
            '<p class="nq-warning" role="note">⚠ This answer is not fully supported by the '
            "cited passages.</p>"
        )
    parts.append(f"<p>{_answer_text(answer.text, by_n, turn)}</p>")
    parts.append(unsupported_html(answer))
    parts.append(notes_html(answer))
    parts.append(sources_html(answer, turn, article, limits or ServeSettings()))
    parts.append(_footer(answer))
    parts.append("</div>")
    return "".join(parts)


def abstention_html(answer: Answer) -> str:
    """Say plainly that the articles do not answer, and why."""
    reason = answer.abstain_reason or "the retrieved passages do not answer the question"
    return (
        '<div class="nq-answer nq-abstain">'
        "<p><strong>The articles don't say.</strong></p>"
        f'<p class="nq-why">Why: {esc(reason.rstrip("."))}.</p>'
        '<p class="nq-note">Try rephrasing, widening the date range in Settings, or adding '
        "articles in the Library tab.</p>"
        f"{unsupported_html(answer)}{_footer(answer)}</div>"
    )


def unsupported_html(answer: Answer) -> str:
    """The model's sentences that no passage supports (left out of the answer), marked."""
    sentences = _unsupported(answer)
    if not sentences:
        return ""
    items = "".join(
        f'<li><span class="nq-unsupported">{_text(MARKER.sub("", s).strip())}</span></li>'
        for s in sentences
    )
    return (
        '<div class="nq-removed" role="note"><p class="nq-warning">⚠ Left out: not supported '
        f'by the cited passages</p><ul class="nq-removed-list">{items}</ul></div>'
    )


def _unsupported(answer: Answer) -> list[str]:
    return [s for s in getattr(answer, "unsupported", None) or [] if s.strip()]


def _footer(answer: Answer) -> str:
    bits = []
    if (total := answer.timings.get("total_s")) is not None:
        bits.append(f"{total:.1f} s")
    if answer.retrieved:
        bits.append(f"{len(answer.retrieved)} passages searched")
    if answer.model:
        bits.append(PurePath(answer.model).name)
    return f'<p class="nq-foot">{esc(" · ".join(bits))}</p>' if bits else ""


def _answer_text(text: str, by_n: dict[int, Citation], turn: int | str) -> str:
    """Sentences with their ``[n]`` markers as chips."""
    out = []
    for sentence in answer_sentences(text):
        out.append(MARKER.sub(lambda m: _chip(int(m.group(1)), by_n, turn), _text(sentence)))
    return " ".join(out)


def _chip(n: int, by_n: dict[int, Citation], turn: int | str) -> str:
    citation = by_n.get(n)
    if citation is None:
        return f'<span class="nq-chip nq-chip-pending">{n}</span>'
    title = esc(f"Source {n}: {citation.title}")
    return f'<a class="nq-chip" href="#{anchor(turn, n)}" title="{title}">{n}</a>'


def _text(text: str) -> str:
    """Escaped text; a paragraph break becomes one line break."""
    return esc(_PARAGRAPHS.sub("\n", text)).replace("\n", "<br>")


# ---- the notes under an answer, timelines and what changed (docs/news.md) -------------------


def notes_html(answer: Answer) -> str:
    """The disagreements ("Reports differ: …", with both quotes) and the freshness note.

    Quotes, and the notes that quote them, are article text: escaped, and links defanged.
    """
    parts = []
    if answer.freshness:
        parts.append(
            f'<p class="nq-fresh" role="note"><strong>Note:</strong> '
            f"{esc(defang(answer.freshness.text))}</p>"
        )
    if answer.disagreements:
        items = "".join(_disagreement_html(d) for d in answer.disagreements)
        parts.append(f'<ul class="nq-differ" role="note">{items}</ul>')
    return "".join(parts)


def _disagreement_html(d: Disagreement) -> str:
    reports = "".join(
        f'<blockquote class="nq-passage"><span class="nq-quote">{_text(defang(r.quote))}</span>'
        f'<br><span class="nq-meta">{esc(r.title)} · {_when(r.published)}</span></blockquote>'
        for r in (d.older, d.newer)
    )
    return (
        f'<li class="nq-differ-item"><span>{esc(defang(d.text))}</span>'
        f'<details class="nq-context"><summary>Both reports</summary>{reports}</details></li>'
    )


def timeline_html(result: Timeline) -> str:
    """A timeline: one dated event per line, oldest first, each an exact article sentence."""
    if not result.events:
        return (
            '<div class="nq-answer nq-abstain nq-timeline">'
            f"<p><strong>No timeline for “{esc(result.topic)}”.</strong></p>"
            f'<p class="nq-why">Why: {esc((result.reason or "no event was found").rstrip("."))}.'
            "</p></div>"
        )
    n = len(result.events)
    events = "".join(_event_html(e) for e in result.events)
    return (
        '<div class="nq-answer nq-timeline">'
        f'<p class="nq-timeline-title">Timeline: <strong>{esc(result.topic)}</strong> · {n} '
        f'event{"s" * (n != 1)}, oldest first</p><ol class="nq-events">{events}</ol></div>'
    )


def _event_html(e: TimelineEvent) -> str:
    also = ""
    if len(e.sources) > 1:
        others = "; ".join(f"{s.title} ({format_date(s.published)})" for s in e.sources[1:])
        also = f'<p class="nq-meta">Also reported by: {esc(others)}</p>'
    heading = f'<p class="nq-event-heading">{esc(defang(e.heading))}</p>' if e.heading else ""
    return (
        f'<li class="nq-event">{_when(e.published, "nq-event-date")}'
        f'<div class="nq-event-body"><p class="nq-event-title">{esc(e.title)}</p>{heading}'
        f'<blockquote class="nq-passage"><mark>{_text(defang(e.quote))}</mark></blockquote>{also}'
        "</div></li>"
    )


def changes_html(
    result: Changes | None,
    parts: Sequence[tuple[date, str]],
    streaming: str | None = None,
) -> str:
    """What changed since a date: each answer under "As of …", then the difference.

    ``parts`` are the answers so far, as (date, HTML from ``answer_html``); ``streaming``
    the text of the answer being written, if any; ``result`` once both are in.
    """
    out = ['<div class="nq-changes">']
    for day, body in parts:
        out.append(f'<p class="nq-asof">As of {_when(day)}</p>{body}')
    if streaming is not None:
        out.append(streaming_html(streaming))
    if result is not None:
        if result.after is result.before:
            out.append(
                f'<p class="nq-note">No article published after {_when(result.since)} matches '
                f"the question: the answer as of {_when(result.today)} is the same.</p>"
            )
        css = "nq-change" if result.changed else "nq-change nq-unchanged"
        out.append(
            f'<div class="{css}" role="note"><strong>What changed:</strong> '
            f"{esc(defang(result.difference))}{_evidence_html(result.evidence)}</div>"
        )
    out.append("</div>")
    return "".join(out)


def _evidence_html(reports: Sequence[Report]) -> str:
    if not reports:
        return ""
    quotes = "".join(
        f'<blockquote class="nq-passage"><span class="nq-quote">{_text(defang(r.quote))}</span>'
        f'<br><span class="nq-meta">{esc(r.title)} · {_when(r.published)}</span></blockquote>'
        for r in reports
    )
    return f'<details class="nq-context"><summary>The sentences</summary>{quotes}</details>'


def _when(day: date | None, css: str = "") -> str:
    """A ``<time>`` element for ``day`` ("undated" without one)."""
    if day is None:
        return "undated"
    cls = f' class="{css}"' if css else ""
    return f'<time{cls} datetime="{day.isoformat()}">{format_date(day)}</time>'


# ---- source cards -----------------------------------------------------------------------


def sources_html(
    answer: Answer, turn: int | str, article: ArticleLookup, limits: ServeSettings | None = None
) -> str:
    """Numbered cards for the cited passages, in the order of their numbers."""
    if not answer.citations:
        return ""
    limits = limits or ServeSettings()
    cards = [
        source_card(c, turn, article(c.doc_id), limits)
        for c in sorted(answer.citations, key=lambda c: c.n)
    ]
    return (
        '<div class="nq-sources"><p class="nq-sources-title">Sources</p>'
        f'<ol class="nq-cards">{"".join(cards)}</ol></div>'
    )


def source_card(
    citation: Citation, turn: int | str, stored: ArticleText | None, limits: ServeSettings
) -> str:
    """One card: title (linked if http/https), date, source, and the highlighted quote.

    The quote is the sentence verification found to support the answer; the card shows it
    highlighted in the article text around it.
    """
    c = citation
    link = safe_url(c.url)
    title = esc(c.title or "Untitled")
    if link:
        title = f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer">{title}</a>'
    when = "undated"
    if c.published:
        when = f'<time datetime="{c.published.isoformat()}">{format_date(c.published)}</time>'
    meta = [when]
    if label := source_label(c.url, stored.source if stored else ""):
        meta.append(esc(label))
    flag = '<p class="nq-ok">✓ Supports the answer</p>' if c.supported else ""
    text, span = c.quote, (0, len(c.quote))
    if stored and 0 <= c.start < c.end <= len(stored.text) and stored.text[c.start : c.end].strip():
        text, span = stored.text, (c.start, c.end)
    mark = _strip_span(text, *span)
    card = excerpt_html(text, span, mark, limits.card_context_chars)
    more = excerpt_html(text, span, mark, limits.more_context_chars)
    return (
        f'<li class="nq-card" id="{anchor(turn, c.n)}" tabindex="-1">'
        f'<div class="nq-card-head"><span class="nq-num">{c.n}</span>'
        f'<span class="nq-title">{title}</span></div>'
        f'<p class="nq-meta">{" · ".join(meta)}</p>'
        f'<blockquote class="nq-passage">{card}</blockquote>{flag}'
        + (
            '<details class="nq-context"><summary>More of the article</summary>'
            f"<p>{more}</p></details>"
            if more != card
            else ""
        )
        + "</li>"
    )


def excerpt_html(text: str, quote: tuple[int, int], mark: tuple[int, int], room: int) -> str:
    """``text`` around ``mark`` (about ``room`` characters each side), as HTML.

    The window is cut at sentence boundaries where it can be (else between words, with an
    ellipsis). The quoted passage ``text[quote[0]:quote[1]]`` is set apart from the
    surrounding context, and the supporting span ``mark`` inside it is highlighted.
    """
    ms, me = mark
    lo, hi, cut_lo, cut_hi = _window(text, ms, me, room)
    qs, qe = max(lo, min(quote[0], ms)), min(hi, max(quote[1], me))

    def part(start: int, end: int) -> str:
        return _text(defang(text, start, end))  # links found in the whole text, then cut

    return (
        ("…" if cut_lo else "")
        + f'<span class="nq-ctx">{part(lo, qs)}</span>'
        + f'<span class="nq-quote">{part(qs, ms)}<mark>{part(ms, me)}</mark>'
        + f"{part(me, qe)}</span>"
        + f'<span class="nq-ctx">{part(qe, hi)}</span>'
        + ("…" if cut_hi else "")
    )


def _window(text: str, start: int, end: int, room: int) -> tuple[int, int, bool, bool]:
    """(lo, hi, cut mid-sentence at lo, ... at hi) of a window around ``[start, end)``.

    Whole sentences are preferred; a sentence too long for the room is cut between words.
    """
    lo, hi = max(0, start - room), min(len(text), end + room)
    cut_lo = cut_hi = False
    if lo > 0:
        starts = [m.end() for m in SENTENCE_GAP.finditer(text, lo, start)]
        if starts:
            lo = starts[0]
        elif SENTENCE_GAP.match(text, max(0, start - 3), start) or start == 0:
            lo = start
        else:
            space = text.find(" ", lo, start)
            lo, cut_lo = (space + 1 if space >= 0 else lo), True
    if hi < len(text):
        ends = [m.start() + 1 for m in SENTENCE_GAP.finditer(text, max(0, end - 1), hi + 1)]
        if ends:
            hi = ends[-1]
            while hi < len(text) and text[hi] in CLOSERS:
                hi += 1
        else:
            space = text.rfind(" ", end, hi)
            hi, cut_hi = (space if space >= 0 else hi), True
    while lo < start and text[lo].isspace():
        lo += 1
    while hi > end and text[hi - 1].isspace():
        hi -= 1
    return lo, max(hi, end), cut_lo, cut_hi


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# ---- the library --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileResult:
    """What happened to one uploaded file."""

    name: str
    status: str  # added | updated | unchanged | failed | mixed
    detail: str = ""


def upload_results_html(results: Sequence[FileResult]) -> str:
    """One line per uploaded file: a status badge and the details (reasons for failures)."""
    if not results:
        return ""
    items = "".join(
        f'<li class="nq-result nq-{esc(r.status)}"><span class="nq-badge">{esc(r.status)}</span>'
        f'<span class="nq-file">{esc(r.name)}</span>'
        + (f'<span class="nq-detail">{esc(r.detail)}</span>' if r.detail else "")
        + "</li>"
        for r in results
    )
    return f'<ul class="nq-results">{items}</ul>'


CSS = """
.nq-answer p, .nq-question { margin: 0 0 .5em 0; }
.nq-answer p:last-child { margin-bottom: 0; }
.nq-status { color: var(--body-text-color-subdued); font-style: italic; }
.nq-cursor { opacity: .6; animation: nq-blink 1s steps(2) infinite; }
@keyframes nq-blink { 50% { opacity: 0; } }
.nq-chip, a.nq-chip, .prose a.nq-chip {
  display: inline-flex; align-items: center; justify-content: center;
  min-width: 1.45em; height: 1.45em; padding: 0 .35em; margin: 0 .1em;
  border-radius: 999px; font-size: .78em; font-weight: 600; line-height: 1;
  vertical-align: .12em; text-decoration: none !important;
  background: var(--color-accent-soft); color: var(--color-accent) !important;
  border: 1px solid var(--color-accent); cursor: pointer;
}
a.nq-chip:hover, a.nq-chip:focus-visible {
  background: var(--color-accent); color: #fff !important; }
.nq-chip-pending { opacity: .55; border-style: dashed; cursor: default; }
.nq-unsupported { text-decoration: underline wavy #dc2626; text-underline-offset: 3px; }
.nq-warning { color: #b45309; font-size: .92em; }
.dark .nq-warning { color: #fbbf24; }
.nq-ok { color: #15803d; font-size: .85em; margin: .3em 0 0 0; }
.dark .nq-ok { color: #4ade80; }
.nq-note, .nq-foot, .nq-why { color: var(--body-text-color-subdued); font-size: .9em; }
.nq-foot { font-size: .8em; margin-top: .6em !important; }
.nq-abstain strong { font-size: 1.05em; }
.nq-error { color: #b91c1c; }
.dark .nq-error { color: #fca5a5; }
.nq-sources { margin-top: .8em; }
.nq-sources-title { font-weight: 600; font-size: .85em; text-transform: uppercase;
  letter-spacing: .04em; color: var(--body-text-color-subdued); margin: 0 0 .4em 0; }
ol.nq-cards { list-style: none; padding: 0 !important; margin: 0; display: grid; gap: .6em; }
.nq-card { border: 1px solid var(--border-color-primary); border-radius: 10px;
  padding: .6em .8em; background: var(--background-fill-secondary);
  scroll-margin: 1rem; margin: 0 !important; transition: box-shadow .3s, border-color .3s; }
.nq-card:target, .nq-card:focus { border-color: var(--color-accent); outline: none;
  box-shadow: 0 0 0 3px var(--color-accent-soft); }
.nq-card-head { display: flex; gap: .5em; align-items: baseline; font-weight: 600;
  font-size: .95em; line-height: 1.35; }
.nq-num { flex: none; display: inline-flex; align-items: center; justify-content: center;
  min-width: 1.5em; height: 1.5em; border-radius: 999px; font-size: .8em;
  background: var(--color-accent); color: #fff; }
.nq-title a { color: inherit; text-decoration: underline; text-underline-offset: 2px; }
.nq-meta { color: var(--body-text-color-subdued); font-size: .82em;
  margin: .15em 0 .4em 0 !important; }
blockquote.nq-passage { margin: 0 !important; padding: 0 0 0 .7em !important;
  border-left: 3px solid var(--border-color-primary); font-size: .92em; line-height: 1.5; }
.nq-passage mark, .nq-context mark { background: #fde68a; color: #1f2937; padding: 0 .1em;
  border-radius: 3px; }
.dark .nq-passage mark { background: #a16207; color: #fff; }
.dark .nq-context mark { background: #a16207; color: #fff; }
.nq-context { font-size: .88em; margin-top: .4em; }
.nq-context summary { cursor: pointer; color: var(--body-text-color-subdued); }
.nq-ctx { color: var(--body-text-color-subdued); }
.nq-removed { margin: .3em 0 .6em 0; }
.nq-removed .nq-warning { margin: 0 0 .2em 0 !important; }
ul.nq-removed-list { margin: 0 !important; padding-left: 1.2em !important; font-size: .92em; }
.nq-removed-list .nq-unsupported { color: var(--body-text-color-subdued); }
ul.nq-results { list-style: none; padding: 0 !important; margin: 0; }
.nq-result { display: flex; flex-wrap: wrap; gap: .5em; align-items: baseline; padding: .25em 0; }
.nq-badge { font-size: .75em; font-weight: 700; text-transform: uppercase; padding: .1em .5em;
  border-radius: 999px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); }
.nq-added .nq-badge, .nq-updated .nq-badge {
  background: #dcfce7; color: #166534; border-color: #86efac; }
.nq-failed .nq-badge { background: #fee2e2; color: #991b1b; border-color: #fca5a5; }
.nq-mixed .nq-badge { background: #fef3c7; color: #92400e; border-color: #fcd34d; }
.nq-file { font-weight: 600; word-break: break-all; }
.nq-detail { color: var(--body-text-color-subdued); font-size: .9em; }
#nq-chat-actions { justify-content: flex-end; gap: .5em; }
.nq-fresh { border-left: 3px solid #d97706; padding-left: .6em !important; font-size: .92em; }
ul.nq-differ { list-style: none; padding: 0 !important; margin: .3em 0 .6em 0 !important;
  font-size: .92em; }
.nq-differ-item { border-left: 3px solid #7c3aed; padding-left: .6em; margin: .3em 0; }
.nq-differ-item > span::before { content: "⚖ "; }
ol.nq-events { list-style: none; padding: 0 !important; margin: .4em 0 0 0;
  border-left: 2px solid var(--color-accent); }
.nq-event { display: grid; grid-template-columns: 7.5em 1fr; gap: .6em; margin: 0 0 .7em 0;
  position: relative; padding-left: .8em; }
.nq-event::before { content: ""; position: absolute; left: -.42em; top: .35em; width: .7em;
  height: .7em; border-radius: 999px; background: var(--color-accent); }
.nq-event-date { font-weight: 600; font-size: .9em; white-space: nowrap; }
.nq-event-title { font-weight: 600; margin: 0 0 .2em 0 !important; }
.nq-event-heading { font-style: italic; margin: 0 0 .2em 0 !important; }
.nq-timeline-title { color: var(--body-text-color-subdued); }
.nq-asof { font-weight: 700; margin: .6em 0 .2em 0 !important; text-transform: uppercase;
  font-size: .8em; letter-spacing: .04em; color: var(--body-text-color-subdued); }
.nq-change { margin-top: .8em; padding: .5em .7em; border-radius: 8px;
  border: 1px solid var(--color-accent); background: var(--color-accent-soft); }
.nq-unchanged { border-color: var(--border-color-primary);
  background: var(--background-fill-secondary); }
#nq-title h1 { margin: 0; font-size: 1.4em; }
#nq-title p { margin: .1em 0 0 0; color: var(--body-text-color-subdued); }
@media (max-width: 640px) {
  .nq-card { padding: .5em .6em; }
  blockquote.nq-passage { padding-left: .5em !important; }
  #nq-title h1 { font-size: 1.15em; }
  .nq-event { grid-template-columns: 1fr; gap: .1em; }
}
"""
