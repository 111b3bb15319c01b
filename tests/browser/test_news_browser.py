"""The news-native views of the chat in headless Chromium: reports that differ, the freshness
note, the timeline (toggle and ``/timeline`` prefix) and "What changed since…".

The real server (``ui.server.build_server``: the door policy, the REST API, the chat) runs in
this process on a loopback port, over the developing stories of tests/data/stories with the
real embedding model; the chat model quotes the article sentences holding given phrases
(``fakes.QuotingChatModel``), so the answers are known and fast. Run alone with
``pytest -m browser``; Chromium comes from Debian (``scripts/ensure-chromium.sh``).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import QuotingChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from relkit import browser_marks, chromium, free_port, playwright_api

from rag.assistant import Assistant

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TODAY = "2025-07-01"  # after every story article
TOLL = "How many people died in the Varnholt mill fire?"
OFFER = "What pay rise did Castlemere Terminals offer?"
STILL_ON = "Is the Castlemere dock strike still on?"
PHRASES = [
    "killed 12",
    "risen to 15",
    "to 17",
    "offer of a 4% rise",
    "extended until Friday 13 June",
    "ended on Wednesday night",
]
TIMEOUT_MS = 60_000

pytestmark = [*browser_marks(), pytest.mark.enable_socket]

expect = playwright_api().expect


class ChatModel(QuotingChatModel):
    """``QuotingChatModel`` that takes a follow-up question as it is (the chat condenses
    every question after the first with the model)."""

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        prompt = str(messages[-1].content)
        follow_up = re.search(r"Last question: (.*)\n\nStandalone question:", prompt, re.S)
        if follow_up:
            message = AIMessage(content=follow_up.group(1))
            return ChatResult(generations=[ChatGeneration(message=message)])
        return super()._generate(messages, stop, run_manager, **kw)


@pytest.fixture(scope="module")
def server(story_store: Any, embedder: Any) -> Iterator[str]:
    """`rag serve` over the stories (``build_server`` under uvicorn, in a thread); its URL."""
    import uvicorn

    from ui.server import build_server

    settings, store = story_store
    llm = ChatModel(phrases=PHRASES)
    assistant = Assistant(settings, llm=llm, embedder=embedder, store=store)
    port = free_port()
    app = build_server(assistant, "127.0.0.1", port, [], "")  # no login, no token
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="news-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh tab on the chat, its answers as of ``TODAY``."""
    context = browser.new_context(viewport={"width": 1280, "height": 1300})
    tab = context.new_page()
    tab.goto(server)
    expect(tab.locator("#nq-chat")).to_be_visible(timeout=TIMEOUT_MS)
    tab.get_by_role("button", name=re.compile(r"^Settings ▼")).click()  # the accordion
    set_date(tab, tab.locator("#nq-today"), TODAY)
    yield tab
    context.close()


def set_date(tab: Any, block: Any, day: str) -> None:
    """Type ``day`` into a Gradio DateTime (it takes the value on Enter)."""
    field = block.locator("input").first
    expect(field).to_be_visible()
    field.fill(day)
    field.press("Enter")


def ask(tab: Any, text: str, done: str = ".nq-answer:not(.nq-streaming)") -> Any:
    """Send ``text``; its answer bubble once ``done`` shows in it and nothing streams."""
    asked = tab.locator(".nq-question").count()
    box = tab.locator("#nq-question textarea")
    box.fill(text)
    box.press("Enter")
    expect(tab.locator(".nq-question")).to_have_count(asked + 1, timeout=TIMEOUT_MS)
    expect(tab.locator(".nq-question").last).to_have_text(text)
    bubble = tab.locator("#nq-chat .bot-row").last
    expect(bubble.locator(done).first).to_be_visible(timeout=TIMEOUT_MS)
    expect(bubble.locator(".nq-streaming")).to_have_count(0, timeout=TIMEOUT_MS)
    return bubble


def test_answers_carry_reports_that_differ_and_the_freshness_note(page):
    toll = ask(page, TOLL)
    expect(toll.locator(".nq-card").first).to_be_visible(timeout=TIMEOUT_MS)
    differ = toll.locator(".nq-differ-item")
    expect(differ).to_have_count(2)
    expect(differ.first).to_contain_text("Reports differ: ")
    expect(toll.locator(".nq-differ")).to_contain_text("vs 17 (Varnholt fire toll revised to 17")
    expect(toll.locator(".nq-differ")).to_contain_text("the answer uses the newer report")
    differ.first.get_by_text("Both reports").click()  # both quotes, each with its date
    quotes = differ.first.locator(".nq-quote")
    expect(quotes).to_have_count(2)
    expect(quotes.last).to_contain_text("17")
    expect(toll.locator(".nq-fresh")).to_have_count(0)  # it rests on the newest report

    offer = ask(page, OFFER)
    expect(offer).to_contain_text("offer of a 4% rise")
    note = offer.locator(".nq-fresh")
    expect(note).to_contain_text("Based on a report of 2 June 2025; newer articles: ")
    expect(note).to_contain_text("Castlemere dock strike ends as workers accept 6% pay deal")
    expect(offer.locator(".nq-differ")).to_have_count(0)
    page.locator("#nq-chat").screenshot(path=str(SCREENSHOTS / "news-answer.png"))
    assert page.locator("#nq-chat img").count() == 0


def test_timeline_by_prefix_and_by_toggle(page):
    strike = ask(page, "/timeline Castlemere dock strike")
    events = strike.locator(".nq-event")
    expect(events).to_have_count(4)
    days = [events.nth(i).locator("time").get_attribute("datetime") for i in range(4)]
    assert days == ["2025-06-02", "2025-06-06", "2025-06-09", "2025-06-12"]
    expect(events.nth(1).locator("mark")).to_contain_text("extended until Friday 13 June")
    expect(events.nth(3).locator("mark")).to_contain_text("ended on Wednesday night")
    expect(strike).to_contain_text("oldest first")

    page.locator("#nq-mode").get_by_text("Timeline", exact=True).click()
    expect(page.locator("#nq-question textarea")).to_have_attribute(
        "placeholder", re.compile("A topic")
    )
    fire = ask(page, "Varnholt mill fire")
    expect(fire.locator(".nq-event")).to_have_count(3)
    expect(fire.locator(".nq-event").last.locator("mark")).to_contain_text("17")

    nothing = ask(page, "Quokka parliament")
    expect(nothing).to_contain_text("No timeline for “Quokka parliament”")


def test_what_changed_since_a_date(page):
    since = page.locator("#nq-changes-since")
    expect(since).to_be_hidden()
    page.locator("#nq-mode").get_by_text("What changed since…", exact=True).click()
    expect(since).to_be_visible()
    set_date(page, since, "2025-06-07")

    result = ask(page, STILL_ON, done=".nq-change")
    as_of = result.locator(".nq-asof")
    expect(as_of).to_have_count(2, timeout=TIMEOUT_MS)
    expect(as_of.first).to_contain_text("7 Jun 2025")
    expect(as_of.last).to_contain_text("1 Jul 2025")
    answers = result.locator(".nq-answer")
    expect(answers.first).to_contain_text("extended until Friday 13 June")
    expect(answers.last).to_contain_text("ended on Wednesday night")
    change = result.locator(".nq-change")
    expect(change).to_contain_text("What changed: Friday 13 June")
    expect(change).to_contain_text("became Wednesday 11 June 2025")
    page.locator("#nq-chat").screenshot(path=str(SCREENSHOTS / "news-changes.png"))

    page.locator("#nq-mode").get_by_text("Timeline", exact=True).click()
    ask(page, "Castlemere dock strike")
    page.locator("#nq-chat").screenshot(path=str(SCREENSHOTS / "news-timeline.png"))
