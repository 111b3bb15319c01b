"""The browser UI at the handler level: the functions behind the events, no server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from rag import Answer, Assistant, Citation
from rag.types import AskOptions
from ui import render
from ui.access import auth_from_env
from ui.app import Handlers, Turn, build_app, parse_day
from ui.server import launch_options

TODAY = "2024-12-01"  # after every test article
XSS = "<img src=x onerror=alert(1)>"
BRIDGE_Q = "When did the Harbour Bridge open?"
BRIDGE_REPLY = "The Harbour Bridge opened to traffic on Tuesday morning [1]."


def ask(h: Handlers, question: str, turns: list[Turn] | None = None, **settings: Any) -> list:
    """Submit and answer like the UI does; returns every (chat, turns) the answer yielded."""
    box, chat, turns, pending = h.submit(question, turns or [])
    assert box == "" and pending == question
    assert chat[-1]["role"] == "assistant" and render.esc(question) in chat[-2]["content"]
    settings.setdefault("today", TODAY)
    return list(h.answer(pending, turns, **settings))


def last_html(steps: list) -> str:
    chat, _ = steps[-1]
    return chat[-1]["content"]


def test_building_the_app_does_no_work(settings):
    assistant = Assistant(settings)
    demo = build_app(assistant)
    assert isinstance(demo, gr.Blocks)
    assert assistant._store is None and assistant._llm is None and assistant._embedder is None


def test_import_rag_does_not_import_gradio():
    code = "import sys, rag; assert 'gradio' not in sys.modules, 'gradio imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_answer_streams_then_shows_chips_and_source_cards(make_assistant):
    h = Handlers(make_assistant(BRIDGE_REPLY))

    steps = ask(h, BRIDGE_Q)

    streamed = [chat[-1]["content"] for chat, _ in steps if "nq-streaming" in chat[-1]["content"]]
    assert any("Searching" in s for s in streamed)
    partial = [s for s in streamed if "nq-cursor" in s]
    assert len(partial) > 2, "tokens are shown as they arrive"
    assert len(partial[0]) < len(partial[-1])
    final = last_html(steps)
    assert "nq-streaming" not in final
    assert '<a class="nq-chip" href="#nq-1-1"' in final
    assert 'id="nq-1-1"' in final
    assert "Harbour Bridge opens to traffic after six years of work" in final
    assert '<time datetime="2024-03-12">12 Mar 2024</time>' in final
    assert "bridge.md" in final
    assert "<mark>" in final
    mark = final.split("<mark>")[1].split("</mark>")[0]
    assert "opened to traffic on Tuesday morning" in mark
    _, turns = steps[-1]
    assert turns[-1].done and "opened to traffic on Tuesday morning" in (turns[-1].answer or "")


def test_model_output_and_passages_are_escaped(make_assistant, tmp_path):
    article = tmp_path / "evil.txt"
    article.write_text(
        "Evil bakery review\n2024-05-03\n\nThe evil bakery on Mill Street sells sourdough. "
        f"Its sign says {XSS} and the oven is new.\n",
        encoding="utf-8",
    )
    reply = f"The evil bakery sign says {XSS} [1]. ![x](http://evil.example/x.png)"
    # Without its markup the first reply only restates the question; asked again, the model
    # answers from the passage, and the card shows the article with its markup as text.
    again = "The evil bakery on Mill Street sells sourdough [1]."
    assistant = make_assistant(reply, again)
    assert assistant.ingest([article]).added
    h = Handlers(assistant)

    final = last_html(ask(h, "What does the sign of the evil bakery on Mill Street say?"))

    assert "<img" not in final
    assert "&lt;img src=x onerror=alert(1)&gt;" in final  # the passage, shown as text
    # Markup the model writes is removed by verification (rag.text.strip_markup) and would
    # be escaped anyway; no markdown is rendered.
    assert "evil.example" not in final


def test_only_http_urls_become_links(make_assistant, tmp_path):
    records = tmp_path / "links.jsonl"
    lines = [
        {"doc_id": "js", "title": "Javascript link article", "url": "javascript:alert(1)",
         "published": "2024-04-01", "text": "The tram depot on Quay Road got a new roof."},
        {"doc_id": "web", "title": "Web link article", "url": "https://example.org/a?b=1&c=2",
         "published": "2024-04-02", "text": "The ferry terminal on Quay Road got a new ramp."},
    ]  # fmt: skip
    records.write_text("\n".join(json.dumps(r) for r in lines), encoding="utf-8")
    assistant = make_assistant("The depot got a roof [1] and the terminal a ramp [2].")
    assistant.ingest([records])
    h = Handlers(assistant)

    final = last_html(ask(h, "What did the tram depot and ferry terminal on Quay Road get?"))

    assert "javascript:" not in final
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">'
        in final
    )


def test_abstention_says_why(make_assistant):
    h = Handlers(make_assistant())  # no scripted reply: the model must not be called

    final = last_html(ask(h, "What is the boiling point of mercury?"))

    assert "The articles don't say." in final
    assert "Why:" in final and "similarity" in final
    assert "nq-card" not in final


def test_sentences_left_out_by_grounding_are_shown_marked():
    c = Citation(1, "d1", "T", None, None, "The sky is blue.", 0, 16, 0.9, "c1", supported=True)
    left_out = f"The sky is green {XSS} [1]."
    answer = Answer("q", "The sky is blue [1].", [c], grounded=False, unsupported=[left_out])

    html = render.answer_html(answer, 1, lambda _: None)

    assert "Left out: not supported" in html
    removed = html.split('class="nq-removed"')[1]
    assert '<span class="nq-unsupported">The sky is green &lt;img' in removed
    assert "<img" not in html and "[1]" not in removed

    reason = "no sentence is supported"
    abstained = Answer("q", "The articles don't say.", abstained=True, grounded=False,
                       abstain_reason=reason, unsupported=[left_out])  # fmt: skip
    html = render.answer_html(abstained, 2, lambda _: None)
    assert "The articles don't say." in html and "Why: no sentence is supported." in html
    assert "nq-unsupported" in html


def test_unchecked_citations_are_not_flagged():
    c = Citation(1, "d1", "T", None, None, "The sky is blue.", 0, 16, 0.9, "c1")
    html = render.answer_html(Answer("q", "The sky is blue [1].", [c]), 1, lambda _: None)
    assert "nq-unsupported" not in html and "nq-flag" not in html and "Supports" not in html


def test_excerpt_shows_whole_sentences_around_the_highlight():
    text = "First one here. Second sentence is the support. Third one follows. " + "word " * 99
    start = text.index("Second")
    end = text.index("support.") + len("support.")

    wide = render.excerpt_html(text, (start, end), (start, end), 30)
    assert "<mark>Second sentence is the support.</mark>" in wide
    assert "First one here." in wide and "Third one follows." in wide
    assert not wide.startswith("…") and not wide.endswith("…")

    narrow = render.excerpt_html(text, (start, end), (start, end), 5)
    assert "First" not in narrow and "Third" not in narrow and "…" not in narrow

    text = "word " * 99 + "key fact here. The end."
    start, end = text.index("key"), text.index("here.") + 5
    cut = render.excerpt_html(text, (start, end), (start, end), 30)
    assert cut.startswith("…<span") and 0 < cut.count("word") < 10
    assert '<mark>key fact here.</mark></span><span class="nq-ctx"> The end.</span>' in cut


def test_follow_up_questions_pass_the_history(make_assistant):
    assistant = make_assistant(BRIDGE_REPLY, "It cost 410 million euros [1].")
    seen: list[Any] = []
    stream = assistant.stream

    def spy(question: str, options: AskOptions, **kwargs: Any) -> Iterator[Any]:
        seen.append(list(options.history))
        return stream(question, options, **kwargs)

    assistant.stream = spy  # type: ignore[method-assign]
    h = Handlers(assistant)
    _, turns = ask(h, BRIDGE_Q)[-1]
    ask(h, "How much did the Harbour Bridge cost?", turns)

    assert seen == [[], [(BRIDGE_Q, turns[0].answer)]]
    assert "Tuesday morning" in (turns[0].answer or "")


def test_errors_become_readable_messages(make_assistant):
    h = Handlers(make_assistant(ingest=False))
    assert "rag ingest" in last_html(ask(h, BRIDGE_Q))

    h = Handlers(make_assistant())
    html = last_html(ask(h, BRIDGE_Q, since="2024-05-01", until="2024-01-01"))
    assert "nq-error" in html and "after" in html
    assert "not a date" in last_html(ask(h, BRIDGE_Q, today="yesterday-ish"))


def test_empty_question_is_ignored(make_assistant):
    h = Handlers(make_assistant())
    box, chat, turns, pending = h.submit("   ", [])
    assert (chat, turns, pending) == ([], [], "")
    assert list(h.answer(pending, turns)) == [([], [])]


def test_one_question_at_a_time(make_assistant):
    h = Handlers(make_assistant(BRIDGE_REPLY))
    _, _, turns, pending = h.submit(BRIDGE_Q, [])

    box, chat, same, ignored = h.submit("And the bakery?", turns)  # while the first waits
    assert (box, same, ignored) == ("And the bakery?", turns, "")
    assert h.retry(turns)[1:] == (turns, "")

    _, turns = list(h.answer(pending, turns, today=TODAY))[-1]
    assert h.submit("And the bakery?", turns)[3] == "And the bakery?"


LOCK = threading.Lock()


class LockingFake(GenericFakeChatModel):
    """Holds a lock while it streams, like the llama.cpp model does."""

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with LOCK:
            yield from super()._stream(*args, **kwargs)


def test_stop_releases_the_model_and_marks_the_answer(settings, embedder):
    llm = LockingFake(messages=iter([AIMessage(content="one two three four five six [1].")]))
    assistant = Assistant(settings, llm=llm, embedder=embedder)
    assistant.ingest([Path(__file__).parent / "data" / "articles"])
    h = Handlers(assistant)
    _, _, turns, pending = h.submit(BRIDGE_Q, [])
    steps = h.answer(pending, turns, today=TODAY)
    while "nq-cursor" not in next(steps)[0][-1]["content"]:
        pass
    assert LOCK.locked()

    steps.close()  # what Gradio does when the event is cancelled
    chat, turns = h.stop(turns)

    assert not LOCK.locked()
    assert "Stopped" in chat[-1]["content"] and "nq-cursor" not in chat[-1]["content"]
    assert turns[-1].done and turns[-1].answer is None


def test_retry_undo_and_clear(make_assistant):
    h = Handlers(make_assistant(BRIDGE_REPLY, "It opened on a Tuesday [1]."))
    _, turns = ask(h, BRIDGE_Q)[-1]

    chat, turns, pending = h.retry(turns)
    assert pending == BRIDGE_Q and len(turns) == 1 and not turns[0].done
    chat, turns = list(h.answer(pending, turns, today=TODAY))[-1]
    assert "It opened on a Tuesday" in chat[-1]["content"]

    chat, turns, box = h.undo(turns)
    assert (chat, turns, box) == ([], [], BRIDGE_Q)
    assert h.clear() == ([], [], "")


# ---- library ------------------------------------------------------------------------------


def write(folder: Path, name: str, text: str | bytes) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_upload_reports_each_file(make_assistant, tmp_path):
    h = Handlers(make_assistant())
    up = tmp_path / "uploads-from-browser"
    files = [
        write(up, "ferry.md", "# New ferry route starts\nPublished: 2024-06-01\n\nThe ferry runs."),
        write(up, "notes.exe", b"MZ\x00\x00"),
        write(up, "empty.txt", ""),
        write(up, "mixed.jsonl", '{"title": "Quay news", "text": "The quay reopened."}\n{oops\n'),
    ]

    results, cleared, rows, count, ids = h.upload(files)

    assert cleared is None
    lines = results.split("<li")[1:]
    assert 'nq-added"' in lines[0] and "ferry.md" in lines[0] and "New ferry route" in lines[0]
    assert 'nq-failed"' in lines[1] and "unsupported file type" in lines[1]
    assert 'nq-failed"' in lines[2] and "empty file" in lines[2]
    assert 'nq-mixed"' in lines[3] and "1 added" in lines[3] and "line 2: invalid JSON" in lines[3]
    titles = [r[0] for r in rows]
    assert "New ferry route starts" in titles and "Quay news" in titles
    assert "5 articles" in count and len(ids) == len(rows) == 5

    results, *_ = h.upload([files[0]])
    assert 'nq-unchanged"' in results
    write(up, "ferry.md", "# New ferry route starts\n\nThe ferry now runs daily.")
    results, _, rows, _, _ = h.upload([files[0]])
    assert 'nq-updated"' in results
    assert [r[0] for r in rows].count("New ferry route starts") == 1


def test_upload_escapes_file_names_and_titles(make_assistant, tmp_path):
    h = Handlers(make_assistant())
    path = write(tmp_path, "x.md", f"# {XSS}\n\nThe text.")
    results, *_ = h.upload([path])
    assert "<img" not in results and "&lt;img" in results


def test_delete_selected_article(make_assistant):
    h = Handlers(make_assistant())
    rows, _, ids = h.library("bridge")
    assert [r[0] for r in rows] == ["Harbour Bridge opens to traffic after six years of work"]
    event = gr.SelectData(None, {"index": [0, 1], "value": rows[0][1], "row_value": rows[0]})

    doc_id, label, button = h.select(ids, event)
    assert doc_id == ids[0] and "Harbour Bridge" in label and button["interactive"] is True

    rows, count, ids, doc_id, label, button = h.delete(doc_id)
    assert len(rows) == len(ids) == 2
    assert all(not r[0].startswith("Harbour Bridge") for r in rows)
    assert "2 articles" in count and doc_id == "" and button["interactive"] is False
    assert "Click an article" in label


def test_library_rows_and_search(make_assistant):
    h = Handlers(make_assistant())
    rows, count, ids = h.library()
    assert len(rows) == len(ids) == 3 and "3 articles" in count
    bridge = next(r for r in rows if r[0].startswith("Harbour Bridge"))
    assert bridge[1:3] == ["2024-03-12", "bridge.md"] and bridge[3] >= 1

    rows, count, _ = h.library("  BAKERY 2024-05 ")
    assert [r[0] for r in rows] == ["Family bakery on Mill Street wins national bread award"]
    assert "1 matching of 3 articles" in count
    assert h.library("no such words")[0] == []


# ---- small helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.org/x", True),
        ("http://example.org", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("data:text/html,<b>x</b>", False),
        ("//example.org", False),
        ("https://exa mple.org", False),
        (None, False),
    ],
)
def test_safe_url(url, ok):
    assert (render.safe_url(url) is not None) is ok


def test_auth_from_env(monkeypatch):
    monkeypatch.delenv("NEWSQA_AUTH", raising=False)
    assert auth_from_env() is None
    monkeypatch.setenv("NEWSQA_AUTH", "ann:secret, bob:pa:ss")
    assert auth_from_env() == [("ann", "secret"), ("bob", "pa:ss")]
    monkeypatch.setenv("NEWSQA_AUTH", "nopassword")
    with pytest.raises(Exception, match="user:password"):
        auth_from_env()


def test_launch_options_are_local_and_limited():
    options = launch_options("127.0.0.1", 7861)
    assert options["server_name"] == "127.0.0.1" and options["server_port"] == 7861
    assert "auth" not in options  # logins are the door policy's (ui.policy), for every route
    assert options["max_file_size"] and options["share"] is False
    assert "allowed_paths" not in options
    assert options["enable_monitoring"] is False  # Gradio's default serves /monitoring
    assert "nq-chip" in options["css"]


def test_parse_day():
    assert parse_day(None, "x") is None and parse_day(" ", "x") is None
    assert parse_day("2025-07-04", "x") == date(2025, 7, 4)
    assert parse_day("2025-07-04 00:00:00", "x") == date(2025, 7, 4)
    with pytest.raises(Exception, match="not a date"):
        parse_day("July", "From")
