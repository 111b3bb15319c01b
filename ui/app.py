"""The chat in the browser: ``build_app(assistant) -> gr.Blocks`` (``ui.server`` serves it).

Two tabs: *Chat* streams answers whose ``[n]`` chips link to numbered source cards, and
*Library* uploads, lists, searches and deletes articles. The chat has three modes: an
answer (with "Reports differ: …" and the freshness note under it), a *Timeline* of a topic
(or a question starting with ``/timeline``), and *What changed since…* a date (the answers
as of then and as of today, and the difference). Questions are handled
``serve.chat_concurrency`` at a time (``concurrency_id="ask"``); of those, one at a time uses
the chat model, and only once the relevance gate has let its question through: a question
refused before the model is answered at once, however busy the model is. Uploads go through
one queue slot (``concurrency_id="model"``, limit 1). More browser tabs wait their turn in
the queue and see their place in it.

Example:
    >>> from rag import Assistant
    >>> from ui.app import build_app
    >>> build_app(Assistant.from_config()).launch()
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from rag import Answer, ArticleInfo, Assistant, Changes, IngestReport, RagError, Token
from rag.ingest import SUPPORTED_SUFFIXES, upload_name
from rag.types import AskOptions
from ui import render

logger = logging.getLogger(__name__)

MODEL_QUEUE = "model"
ASK_QUEUE = "ask"
MODEL_WAIT_S = 0.1  # how often a question waiting for the model checks whether it was stopped
LIBRARY_HEADERS = ["Title", "Date", "Source", "Chunks"]
UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)
WAITING = "Waiting for its turn…"
SEARCHING = "Searching the articles…"
SEARCHING_BUSY = "Searching the articles… (the model is answering another question first)"
INTERNAL_ERROR = "Something went wrong while answering; the details are in the server log."
ANSWER, TIMELINE, CHANGES = "Answer", "Timeline", "What changed since…"
MODES = [ANSWER, TIMELINE, CHANGES]
READING = "Reading the articles…"
_TIMELINE_PREFIX = re.compile(r"^/timeline\b\s*", re.IGNORECASE)
_BOX_HINTS = {
    ANSWER: "Ask about the articles…",
    TIMELINE: "A topic, e.g. Castlemere dock strike (or /timeline TOPIC in any mode)",
    CHANGES: "A question; pick the date to compare with below",
}
PLACEHOLDER = (
    "### Ask about your news articles\n"
    "Every answer cites the passages it comes from: click a number to see the source."
)


class SettingsError(RagError):
    """A setting in the UI (a date) is not valid."""


class _Stopped(Exception):
    """The question was stopped while it waited for the model."""


@dataclass
class Turn:
    """One question and what is shown for it; ``answer`` is set once it is complete."""

    question: str
    html: str
    answer: str | None = None
    done: bool = False


Message = dict[str, str]
LibraryRow = list[Any]


def messages(turns: Sequence[Turn]) -> list[Message]:
    """The chatbot's value for ``turns`` (HTML built by ``ui.render``, all text escaped)."""
    out: list[Message] = []
    for turn in turns:
        out.append({"role": "user", "content": render.question_html(turn.question)})
        out.append({"role": "assistant", "content": turn.html})
    return out


def parse_day(value: str | float | None, label: str) -> date | None:
    """A ``YYYY-MM-DD`` date from a date field; None when it is empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value).date()
        except (OverflowError, OSError, ValueError) as ex:
            raise SettingsError(f"{label}: {value!r} is not a date like 2025-07-04.") from ex
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError as ex:
        raise SettingsError(f"{label}: {value!r} is not a date like 2025-07-04.") from ex


class Handlers:
    """The functions behind the UI's events; tests call them directly, without a server."""

    def __init__(self, assistant: Assistant) -> None:
        """Serve ``assistant``."""
        self.assistant = assistant
        self.limits = assistant.settings.serve
        self._model = threading.Lock()  # the chat model, one question at a time

    @contextlib.contextmanager
    def _model_turn(self, turn: Turn) -> Iterator[None]:
        """Hold the model for ``turn``'s answer (``Assistant.stream`` enters this lazily).

        Waits for the question before it; a question stopped meanwhile stops waiting.
        """
        while not self._model.acquire(timeout=MODEL_WAIT_S):
            if turn.done:
                raise _Stopped()
        try:
            yield
        finally:
            self._model.release()

    # ---- chat -----------------------------------------------------------------------------

    def submit(self, message: str, turns: list[Turn]) -> tuple[str, list[Message], list[Turn], str]:
        """Show the question at once (before the queue); returns (box, chat, turns, pending)."""
        question = " ".join((message or "").split())
        if not question or _busy_with(turns):  # one question at a time: keep it in the box
            return message, messages(turns), turns, ""
        turns = [*turns, Turn(question, render.pending_html(WAITING))]
        return "", messages(turns), turns, question

    def example(
        self, turns: list[Turn], evt: gr.SelectData
    ) -> tuple[str, list[Message], list[Turn], str]:
        """Ask an example question clicked on the empty chat."""
        value = evt.value if isinstance(evt.value, dict) else {"text": str(evt.value)}
        return self.submit(str(value.get("text") or ""), turns)

    def answer(
        self,
        question: str,
        turns: list[Turn],
        k: float | None = None,
        since: str | None = None,
        until: str | None = None,
        today: str | None = None,
    ) -> Iterator[tuple[list[Message], list[Turn]]]:
        """Stream the answer to the pending question into its turn; never raises."""
        if not question or not turns or turns[-1].done or turns[-1].question != question:
            yield messages(turns), turns
            return
        turn, number = turns[-1], len(turns)
        # A question the gate lets through waits here for the model, if another has it.
        turn.html = render.pending_html(SEARCHING_BUSY if self._model.locked() else SEARCHING)
        yield messages(turns), turns
        try:
            history = [(t.question, t.answer) for t in turns[:-1] if t.answer is not None]
            options = self._options(k, since, until, today, history)
            result: Answer | None = None
            text = ""
            events = self.assistant.stream(question, options, slot=self._model_turn(turn))
            try:
                for event in events:
                    if turn.done:  # stopped meanwhile: the stop handler has the last word
                        return
                    if isinstance(event, Token):
                        text += event.text
                        turn.html = render.streaming_html(text)
                        yield messages(turns), turns
                    elif isinstance(event, Answer):
                        result = event
            finally:
                # On Stop, Gradio closes this generator: closing the stream unwinds the
                # model's generation and frees its lock for the next question.
                getattr(events, "close", lambda: None)()
            if result is None:
                raise RuntimeError("the answer stream ended without an answer")
            html = render.answer_html(result, number, self._articles(), self.limits)
            answer_text = result.text
        except _Stopped:  # the stop handler has the last word
            return
        except RagError as ex:
            html, answer_text = render.error_html(str(ex)), None
        except Exception:
            logger.exception("answering %r failed", question)
            html, answer_text = render.error_html(INTERNAL_ERROR), None
        if not turn.done:
            turn.html, turn.answer, turn.done = html, answer_text, True
        yield messages(turns), turns

    # ---- news-native views: timeline, what changed since (docs/news.md) ----------------------

    def respond(
        self,
        question: str,
        turns: list[Turn],
        k: float | None = None,
        since: str | None = None,
        until: str | None = None,
        today: str | None = None,
        mode: str = ANSWER,
        changes_since: str | None = None,
    ) -> Iterator[tuple[list[Message], list[Turn]]]:
        """The pending question in the chat's ``mode`` (``/timeline TOPIC`` in any mode)."""
        if mode == TIMELINE or _TIMELINE_PREFIX.match(question or ""):
            yield from self.timeline(question, turns, since, until, today)
        elif mode == CHANGES:
            yield from self.changes(question, turns, k, today, changes_since)
        else:
            yield from self.answer(question, turns, k, since, until, today)

    def timeline(
        self,
        question: str,
        turns: list[Turn],
        since: str | None = None,
        until: str | None = None,
        today: str | None = None,
    ) -> Iterator[tuple[list[Message], list[Turn]]]:
        """Show the timeline of the pending topic in its turn (no model call); never raises."""
        if not question or not turns or turns[-1].done or turns[-1].question != question:
            yield messages(turns), turns
            return
        turn = turns[-1]
        turn.html = render.pending_html(READING)
        yield messages(turns), turns
        try:
            topic = _TIMELINE_PREFIX.sub("", question)
            options = self._options(None, since, until, today, [])
            result = self.assistant.timeline(topic, options.since, options.until, options.today)
            html = render.timeline_html(result)
        except RagError as ex:
            html = render.error_html(str(ex))
        except Exception:
            logger.exception("the timeline of %r failed", question)
            html = render.error_html(INTERNAL_ERROR)
        if not turn.done:  # a timeline is no answer to follow up on: answer stays None
            turn.html, turn.done = html, True
        yield messages(turns), turns

    def changes(
        self,
        question: str,
        turns: list[Turn],
        k: float | None = None,
        today: str | None = None,
        changes_since: str | None = None,
    ) -> Iterator[tuple[list[Message], list[Turn]]]:
        """Stream the answers as of ``changes_since`` and as of today, then what changed."""
        if not question or not turns or turns[-1].done or turns[-1].question != question:
            yield messages(turns), turns
            return
        turn, number = turns[-1], len(turns)
        turn.html = render.pending_html(SEARCHING_BUSY if self._model.locked() else SEARCHING)
        yield messages(turns), turns
        answer_text = None
        try:
            day = parse_day(changes_since, "What changed since")
            if day is None:
                raise SettingsError("Pick the date to compare with (What changed since…).")
            history = [(t.question, t.answer) for t in turns[:-1] if t.answer is not None]
            options = self._options(k, None, None, today, history)
            days = [day, options.today or date.today()]
            parts: list[tuple[date, str]] = []
            text, result = "", None
            slot = self._model_turn(turn)  # held for both answers
            events = self.assistant.stream_changes(question, day, options, slot=slot)
            try:
                for event in events:
                    if turn.done:  # stopped meanwhile: the stop handler has the last word
                        return
                    if isinstance(event, Token):
                        text += event.text
                        turn.html = render.changes_html(None, parts, text)
                    elif isinstance(event, Answer):
                        lookup, anchor = self._articles(), f"{number}-{len(parts) + 1}"
                        html = render.answer_html(event, anchor, lookup, self.limits)
                        parts.append((days[len(parts)], html))
                        text, answer_text = "", event.text
                        turn.html = render.changes_html(None, parts)
                    elif isinstance(event, Changes):
                        result = event
                        turn.html = render.changes_html(result, parts)
                    yield messages(turns), turns
            finally:
                getattr(events, "close", lambda: None)()
            if result is None:
                raise RuntimeError("the stream of what changed ended without the changes")
            html = render.changes_html(result, parts)
        except _Stopped:  # the stop handler has the last word
            return
        except RagError as ex:
            html, answer_text = render.error_html(str(ex)), None
        except Exception:
            logger.exception("what changed for %r failed", question)
            html, answer_text = render.error_html(INTERNAL_ERROR), None
        if not turn.done:
            turn.html, turn.answer, turn.done = html, answer_text, True
        yield messages(turns), turns

    def stop(self, turns: list[Turn]) -> tuple[list[Message], list[Turn]]:
        """Mark the answer in progress as stopped (the event itself is cancelled by Gradio)."""
        if turns and not turns[-1].done:
            turn = turns[-1]
            if "nq-status" in turn.html:
                turn.html = render.error_html("Stopped before the answer started.")
            else:
                partial = turn.html.replace('<span class="nq-cursor">▍</span>', "")
                turn.html = render.stopped_html(partial.replace(" nq-streaming", ""))
            turn.done = True
        return messages(turns), turns

    def retry(self, turns: list[Turn]) -> tuple[list[Message], list[Turn], str]:
        """Ask the last question again; returns (chat, turns, pending)."""
        if not turns or _busy_with(turns):
            return messages(turns), turns, ""
        question = turns[-1].question
        turns = [*turns[:-1], Turn(question, render.pending_html(WAITING))]
        return messages(turns), turns, question

    def undo(self, turns: list[Turn]) -> tuple[list[Message], list[Turn], str]:
        """Remove the last turn and put its question back into the box."""
        if not turns:
            return [], [], ""
        return messages(turns[:-1]), turns[:-1], turns[-1].question

    def clear(self) -> tuple[list[Message], list[Turn], str]:
        """Start a new conversation."""
        return [], [], ""

    def article(self, doc_id: str) -> render.ArticleText | None:
        """The stored text of an article, for source cards (None if it is gone)."""
        try:
            stored = self.assistant.article(doc_id)
        except Exception:  # a card without context is better than no answer
            logger.exception("cannot read article %s", doc_id)
            return None
        return render.ArticleText(stored.text, stored.source) if stored else None

    def _articles(self) -> render.ArticleLookup:
        """``article`` for the cards of one answer: each article is read once."""
        read: dict[str, render.ArticleText | None] = {}

        def lookup(doc_id: str) -> render.ArticleText | None:
            if doc_id not in read:
                read[doc_id] = self.article(doc_id)
            return read[doc_id]

        return lookup

    def _options(
        self,
        k: float | None,
        since: str | None,
        until: str | None,
        today: str | None,
        history: Sequence[tuple[str, str]],
    ) -> AskOptions:
        start, end = parse_day(since, "From"), parse_day(until, "Until")
        if start and end and start > end:
            raise SettingsError("The “From” date is after the “Until” date.")
        day = parse_day(today, "Answer as of")
        return AskOptions(int(k) if k else None, day, start, end, history)

    # ---- library --------------------------------------------------------------------------

    def library(self, query: str = "") -> tuple[list[LibraryRow], str, list[str]]:
        """Table rows of the articles matching ``query``, a count line, and their doc_ids."""
        try:
            articles = self.assistant.list_articles()
        except RagError as ex:
            return [], render.error_html(str(ex)), []
        words = (query or "").casefold().split()
        shown = [a for a in articles if _matches(a, words)]
        rows = [
            [
                a.title,
                a.published.isoformat() if a.published else "",
                render.source_label(a.url, a.source),
                a.chunks,
            ]
            for a in shown
        ]
        total = f"{len(articles)} article{'s' * (len(articles) != 1)}"
        total += f", {sum(a.chunks for a in articles)} passages"
        if words:
            total = f"{len(shown)} matching of {total}"
        return rows, f'<p class="nq-note">{render.esc(total)}</p>', [a.doc_id for a in shown]

    def upload(
        self,
        files: Sequence[str] | None,
        query: str = "",
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, None, list[LibraryRow], str, list[str]]:
        """Ingest uploaded files one by one: (results, cleared upload box, table, count, ids)."""
        paths = [str(f) for f in files or []]
        results: list[render.FileResult] = []
        for i, path in enumerate(paths):
            progress((i, len(paths)), desc=f"Reading {Path(path).name}", unit="files")
            results.append(self._ingest_one(Path(path)))
        return render.upload_results_html(results), None, *self.library(query)

    def _ingest_one(self, upload: Path) -> render.FileResult:
        """Ingest one uploaded file; Gradio's copy of it is removed after.

        The store keeps the articles' text (``Assistant.ingest_upload``), and a deleted
        article must leave no copy behind, not even in Gradio's upload folder.
        """
        name = upload_name(upload.name)
        try:
            dest, report = self.assistant.ingest_upload(name, upload)
            return self._file_result(name, dest, report)
        except RagError as ex:
            return render.FileResult(name, "failed", str(ex))
        except Exception as ex:
            logger.exception("ingesting %s failed", upload)
            return render.FileResult(name, "failed", f"unexpected error ({type(ex).__name__})")
        finally:
            if upload.resolve().is_relative_to(Path(get_upload_folder()).resolve()):
                upload.unlink(missing_ok=True)

    def _file_result(self, name: str, dest: Path, report: IngestReport) -> render.FileResult:
        """One line for a file: its status and what was read (or why not)."""
        counts = [
            (len(report.added), "added"),
            (len(report.updated), "updated"),
            (len(report.unchanged), "unchanged"),
            (len(report.failed), "failed"),
        ]
        reasons = [_where(where, dest) + reason for where, reason in report.failed[:3]]
        if len(report.failed) > len(reasons):
            reasons.append(f"{len(report.failed) - len(reasons)} more")
        ok = [*report.added, *report.updated, *report.unchanged]
        if not ok:
            return render.FileResult(name, "failed", "; ".join(reasons) or "nothing to read")
        if report.failed:
            summary = ", ".join(f"{n} {label}" for n, label in counts if n)
            return render.FileResult(name, "mixed", f"{summary}: {'; '.join(reasons)}")
        status = "added" if report.added else "updated" if report.updated else "unchanged"
        if len(ok) == 1:
            return render.FileResult(name, status, self.article_info(ok[0]))
        summary = ", ".join(f"{n} {label}" for n, label in counts if n)
        return render.FileResult(name, status, summary)

    def article_info(self, doc_id: str) -> str:
        """“Title” (n passages) for a result line."""
        stored = self.assistant.article(doc_id)
        if stored is None:
            return doc_id
        passages = f"{stored.chunks} passage{'s' * (stored.chunks != 1)}"
        return f"“{stored.title}” ({passages})"

    def select(self, ids: list[str], evt: gr.SelectData) -> tuple[str, str, dict[str, Any]]:
        """Remember the clicked row's article: (doc_id, label, delete button update)."""
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if not isinstance(row, int) or not 0 <= row < len(ids):
            return "", _selected_html(None), gr.update(interactive=False)
        stored = self.assistant.article(ids[row])
        title = stored.title if stored else ids[row]
        return ids[row], _selected_html(title), gr.update(interactive=True)

    def delete(
        self, doc_id: str, query: str = ""
    ) -> tuple[list[LibraryRow], str, list[str], str, str, dict[str, Any]]:
        """Delete the selected article: (table, count, ids, doc_id, label, button update)."""
        if doc_id:
            stored = self.assistant.article(doc_id)
            title = stored.title if stored else doc_id
            try:
                deleted = self.assistant.delete(doc_id)
            except RagError as ex:
                raise gr.Error(str(ex)) from ex
            if deleted:
                gr.Info(f"Deleted “{title}”.")
            else:
                gr.Warning("That article was already gone.")
        rows, count, ids = self.library(query)
        return rows, count, ids, "", _selected_html(None), gr.update(interactive=False)


def _matches(article: ArticleInfo, words: list[str]) -> bool:
    published = article.published.isoformat() if article.published else ""
    text = " ".join([article.title, article.source, article.url or "", article.doc_id, published])
    return all(word in text.casefold() for word in words)


def _busy_with(turns: Sequence[Turn]) -> bool:
    """Whether the last question is still waiting for or receiving its answer."""
    return bool(turns) and not turns[-1].done


def _selected_html(title: str | None) -> str:
    if title is None:
        return '<p class="nq-note">Click an article in the table to select it for deletion.</p>'
    return f"<p>Selected: <strong>{render.esc(title)}</strong></p>"


def _where(where: str, dest: Path) -> str:
    """``line 3: `` for a failure inside a JSONL file; nothing for the file itself."""
    rest = where.removeprefix(str(dest))
    if rest.startswith(":"):
        return f"line {rest[1:]}: "
    if rest.startswith("["):
        return f"record {rest.strip('[]')}: "
    return ""


def _mode_changed(mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The date field of "What changed since…" shows in that mode; the box says what to type."""
    hint = _BOX_HINTS.get(mode, _BOX_HINTS[ANSWER])
    return gr.update(visible=mode == CHANGES), gr.update(placeholder=hint)


def _busy() -> tuple[dict[str, Any], dict[str, Any]]:
    return gr.update(visible=False), gr.update(visible=True)


def _idle() -> tuple[dict[str, Any], dict[str, Any]]:
    return gr.update(visible=True), gr.update(visible=False)


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Blocks app (call ``.queue()`` and ``.launch()``, or use ``ui.server.serve``).

    Example:
        >>> demo = build_app(Assistant.from_config())
    """
    h = Handlers(assistant)
    default_k = assistant.settings.retrieve.k
    with gr.Blocks(title="newsqa", analytics_enabled=False) as demo:
        turns = gr.State([])
        pending = gr.State("")
        selected = gr.State("")
        ids = gr.State([])
        gr.HTML(
            '<div id="nq-title"><h1>newsqa</h1><p>Answers from your news articles, with the '
            "passage behind every claim.</p></div>"
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chatbot = gr.Chatbot(
                    show_label=False,
                    elem_id="nq-chat",
                    height="62vh",
                    min_height=320,
                    render_markdown=False,
                    sanitize_html=True,
                    latex_delimiters=[],
                    allow_tags=False,
                    buttons=[],
                    feedback_options=None,
                    layout="panel",
                    placeholder=PLACEHOLDER,
                    examples=[{"text": q} for q in render.EXAMPLES],
                )
                with gr.Row(equal_height=True):
                    box = gr.Textbox(
                        show_label=False,
                        placeholder="Ask about the articles…",
                        scale=8,
                        max_length=assistant.settings.answer.max_question_chars,
                        autofocus=True,
                        elem_id="nq-question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=72)
                    stop = gr.Button("Stop", variant="stop", scale=1, min_width=72, visible=False)
                with gr.Row(equal_height=True, elem_id="nq-modes"):
                    mode = gr.Radio(
                        MODES,
                        value=ANSWER,
                        label="Mode",
                        show_label=False,
                        container=False,
                        scale=3,
                        elem_id="nq-mode",
                    )
                    changes_since = gr.DateTime(
                        include_time=False,
                        type="string",
                        label="What changed since",
                        info="Answers as of this date and as of today, and the difference.",
                        visible=False,
                        scale=2,
                        elem_id="nq-changes-since",
                    )
                with gr.Row(elem_id="nq-chat-actions"):
                    retry = gr.Button("↻ Retry", size="sm", scale=0, min_width=96)
                    clear = gr.Button("Clear chat", size="sm", scale=0, min_width=96)
                with gr.Accordion("Settings", open=False):
                    with gr.Row():
                        k = gr.Slider(1, 10, value=default_k, step=1, label="Number of sources (k)")
                        today = gr.DateTime(
                            include_time=False,
                            type="string",
                            label="Answer as of",
                            info="Empty: today. Later articles are ignored.",
                            elem_id="nq-today",
                        )
                    with gr.Row():
                        since = gr.DateTime(
                            include_time=False,
                            type="string",
                            label="From",
                            info="Only articles published on or after",
                        )
                        until = gr.DateTime(
                            include_time=False,
                            type="string",
                            label="Until",
                            info="Only articles published on or before",
                        )
            with gr.Tab("Library", id="library") as library_tab:
                files = gr.File(
                    label="Add articles (txt, md, html, pdf, json, jsonl; several at once)",
                    file_count="multiple",
                    file_types=UPLOAD_TYPES,
                    type="filepath",
                    height=130,
                    elem_id="nq-upload",
                )
                results = gr.HTML(elem_id="nq-upload-results")
                with gr.Row(equal_height=True):
                    query = gr.Textbox(
                        show_label=False,
                        placeholder="Search titles, sources, dates…",
                        elem_id="nq-search",
                        scale=3,
                        type="text",
                    )
                    count = gr.HTML(elem_id="nq-count")
                table = gr.Dataframe(
                    headers=LIBRARY_HEADERS,
                    datatype=["str", "str", "str", "number"],
                    interactive=False,
                    wrap=True,
                    max_height=460,
                    elem_id="nq-library",
                    column_widths=["52%", "16%", "22%", "10%"],
                )
                with gr.Row(equal_height=True):
                    selected_label = gr.HTML(_selected_html(None))
                    delete = gr.Button(
                        "Delete article",
                        variant="stop",
                        interactive=False,
                        size="md",
                        scale=0,
                        min_width=180,
                    )

        # ---- chat events: show the question at once, then answer in the ask queue
        answer_args: dict[str, Any] = {
            "fn": h.respond,
            "inputs": [pending, turns, k, since, until, today, mode, changes_since],
            "outputs": [chatbot, turns],
            "api_name": "answer",  # its name before the modes: Gradio clients call /answer
            "concurrency_id": ASK_QUEUE,
            "concurrency_limit": assistant.settings.serve.chat_concurrency,
            "show_progress": "full",
        }
        fast: dict[str, Any] = {"queue": False, "show_progress": "hidden"}
        mode.change(_mode_changed, [mode], [changes_since, box], **fast)
        asked = gr.on(
            [box.submit, send.click], h.submit, [box, turns], [box, chatbot, turns, pending], **fast
        )
        examples = chatbot.example_select(
            h.example, [turns], [box, chatbot, turns, pending], **fast
        )
        retried = gr.on(
            [retry.click, chatbot.retry], h.retry, [turns], [chatbot, turns, pending], **fast
        )
        answers = [
            step.then(_busy, None, [send, stop], **fast).then(**answer_args)
            for step in (asked, examples, retried)
        ]
        for event in answers:
            event.then(_idle, None, [send, stop], **fast)
        stop.click(h.stop, [turns], [chatbot, turns], cancels=answers, **fast).then(
            _idle, None, [send, stop], **fast
        )
        chatbot.undo(h.undo, [turns], [chatbot, turns, box], cancels=answers, **fast)
        gr.on(
            [clear.click, chatbot.clear],
            h.clear,
            None,
            [chatbot, turns, pending],
            cancels=answers,
            **fast,
        ).then(_idle, None, [send, stop], **fast)

        # ---- library events
        listing = [table, count, ids]
        files.upload(
            h.upload,
            [files, query],
            [results, files, *listing],
            concurrency_id=MODEL_QUEUE,
            concurrency_limit=1,
            show_progress="full",
            show_progress_on=[results],
        )
        gr.on(
            [query.input, query.submit],
            h.library,
            [query],
            listing,
            trigger_mode="always_last",
            **fast,
        )
        table.select(h.select, [ids], [selected, selected_label, delete], **fast)
        delete.click(h.delete, [selected, query], [*listing, selected, selected_label, delete])
        gr.on([demo.load, library_tab.select], h.library, [query], listing, **fast)
    return demo
