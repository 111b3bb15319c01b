"""The real UI in headless Chromium: `rag serve` with the default models, driven by Playwright.

Slow (the packaged model answers on the CPU in about 30 s). Run alone with
``pytest -m browser``; Chromium comes from Debian (``scripts/ensure-chromium.sh``), never
from ``playwright install``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from relkit import browser_marks, chromium, playwright_api, real_app_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
QUESTION = "Why did Ukraine want Patriot systems?"
ANSWER_TIMEOUT_MS = 240_000

pytestmark = browser_marks()

expect = playwright_api().expect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`rag ingest seeds/` then `rag serve` on a free port; yields the URL."""
    with real_app_server(tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: object, server: str) -> Iterator[object]:
    """A fresh tab on the app that records any request leaving the machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 960})  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.remote = []
    tab.on("request", lambda r: _record_remote(tab.remote, r.url, server))
    tab.goto(server)
    expect(tab.locator("#nq-chat")).to_be_visible(timeout=60_000)
    yield tab
    context.close()


def _record_remote(remote: list[str], url: str, server: str) -> None:
    if not url.startswith((server, "data:", "blob:")):
        remote.append(url)


def ask(tab: object, question: str) -> None:
    box = tab.locator("#nq-question textarea")  # type: ignore[attr-defined]
    box.fill(question)
    box.press("Enter")


def test_chat_streams_a_cited_answer(page, browser, server):
    # A second tab, ready before the first question: it will ask while the model writes the
    # first answer (the model is taken only once a question passes the gate).
    other = browser.new_page()
    other.goto(server)
    expect(other.locator("#nq-chat")).to_be_visible(timeout=60_000)

    ask(page, QUESTION)
    expect(page.locator(".nq-question").last).to_have_text(QUESTION)
    expect(page.locator(".nq-cursor")).to_be_attached(timeout=ANSWER_TIMEOUT_MS)  # streaming

    # The second question searches at once, then waits for the model (a question the gate
    # refused would be answered at once), and its Stop button ends the wait.
    ask(other, "What did Zelenskiy discuss with Trump?")  # no time words: the gate lets it pass
    busy = re.compile(r"the model is answering another question")
    expect(other.get_by_text(busy)).to_be_visible(timeout=30_000)
    other.get_by_role("button", name="Stop").click()
    expect(other.get_by_text("Stopped before the answer started.")).to_be_visible()
    other.close()

    card = page.locator(".nq-card").first
    expect(card).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(".nq-streaming")).to_have_count(0)

    highlighted = page.locator(".nq-passage mark", has_text="defending its cities")
    seed_card = page.locator(".nq-card").filter(has=highlighted).first
    expect(seed_card.locator(".nq-passage mark")).to_contain_text("defending its cities")
    expect(seed_card).to_contain_text("Zelenskiy says he discussed air defences")
    expect(seed_card).to_contain_text("4 Jul 2025")
    page.screenshot(path=str(SCREENSHOTS / "chat.png"))

    chip = page.locator("a.nq-chip").first
    expect(chip).to_be_visible()
    n = chip.inner_text().strip()
    chip.click()
    target = page.locator(".nq-card:target")
    expect(target).to_have_count(1)
    expect(target).to_have_attribute("id", f"nq-1-{n}")
    expect(target).to_be_in_viewport()
    assert page.locator("#nq-chat img").count() == 0
    assert page.remote == [], f"the page fetched from elsewhere: {page.remote}"


def test_library_upload_lists_the_article(page, tmp_path):
    page.get_by_role("tab", name="Library").click()
    table = page.locator("#nq-library")
    expect(table).to_contain_text("Zelenskiy says he discussed air defences", timeout=30_000)

    article = tmp_path / "ferry-route.md"
    article.write_text(
        "# Harbour ferry route opens to cyclists\nPublished: 2025-06-30\n\n"
        "The new harbour ferry carries up to 40 bicycles on every crossing.\n",
        encoding="utf-8",
    )
    page.locator("#nq-upload input[type=file]").set_input_files(str(article))

    results = page.locator("#nq-upload-results")
    expect(results).to_contain_text("added", timeout=120_000)
    expect(results).to_contain_text("ferry-route.md")
    expect(table).to_contain_text("Harbour ferry route opens to cyclists")
    page.screenshot(path=str(SCREENSHOTS / "library.png"))

    search = page.locator("#nq-search textarea")
    search.fill("ferry")
    search.press("Enter")
    expect(table).not_to_contain_text("Zelenskiy")
    table.get_by_test_id("cell-0-0").click()
    expect(page.get_by_text("Selected: Harbour ferry route opens to cyclists")).to_be_visible()
    page.get_by_role("button", name="Delete article").click()
    expect(table).not_to_contain_text("Harbour ferry route", timeout=30_000)
    expect(page.locator("#nq-count")).to_contain_text("1 article")
