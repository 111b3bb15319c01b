"""Issue 7, item 9: hostile markup is shown as text in the real UI, in headless Chromium.

An ingested article carries ``<img onerror>``, ``<svg onload>``, ``[x](javascript:...)``,
``<a href="javascript:...">`` and a remote markdown image in its title and text; a JSON
record has a ``javascript:`` URL; and the (fake) model's answer repeats the markup. The real
app (``rag serve`` with fake models) shows answers, source cards and the library table in
Chromium while Playwright watches: no dialog may open, no request may leave for another
origin (every one is recorded and blocked), no element may carry an event handler or a
``javascript:`` link, and the markup must appear on screen as the literal text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from relkit import (
    ATTACKER,
    HOSTILE_GALLERY,
    HOSTILE_RECORD,
    AppServer,
    app_server,
    browser_marks,
    chromium,
    playwright_api,
)

TIMEOUT_MS = 60_000

pytestmark = browser_marks()

expect = playwright_api().expect

# What would run or load something if it were rendered instead of shown.
DANGEROUS = """() => ({
  handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(
    a => a.name.startsWith('on'))).map(e => e.outerHTML.slice(0, 200)),
  scriptLinks: [...document.querySelectorAll('[href],[src],[action],[formaction]')].filter(
    e => ['href', 'src', 'action', 'formaction'].some(
      name => /^\\s*(javascript:|vbscript:|data:text\\/html)/i.test(e.getAttribute(name) || ''))
  ).map(e => e.outerHTML),
  remote: [...document.querySelectorAll('img,iframe,object,embed,video,audio,source')].filter(
    e => (e.currentSrc || e.src || '').includes('attacker')).map(e => e.outerHTML),
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root = tmp_path_factory.mktemp("rendering")
    gallery, shop = root / "gallery.md", root / "shop.jsonl"
    gallery.write_text(HOSTILE_GALLERY, encoding="utf-8")
    shop.write_text(json.dumps(HOSTILE_RECORD) + "\n", encoding="utf-8")
    with app_server(root, [gallery, shop]) as running:
        yield running


@pytest.fixture
def page(server: AppServer) -> Iterator[object]:
    """A tab on the app that records (and blocks) requests elsewhere, and any dialog."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 960})
        tab = context.new_page()
        tab.dialogs, tab.remote = [], []

        def on_dialog(dialog: object) -> None:
            tab.dialogs.append(dialog.message)  # type: ignore[attr-defined]
            dialog.dismiss()  # type: ignore[attr-defined]

        def on_route(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            if url.startswith((server.url, "data:", "blob:")):
                route.continue_()  # type: ignore[attr-defined]
            else:
                tab.remote.append(url)
                route.abort()  # type: ignore[attr-defined]

        tab.on("dialog", on_dialog)
        context.route("**/*", on_route)
        tab.goto(server.url)
        expect(tab.locator("#nq-chat")).to_be_visible(timeout=TIMEOUT_MS)
        yield tab
        context.close()


def _ask(tab: object, question: str, turn: int) -> object:
    box = tab.locator("#nq-question textarea")  # type: ignore[attr-defined]
    box.fill(question)
    box.press("Enter")
    cards = tab.locator(f'.nq-card[id^="nq-{turn}-"]')  # type: ignore[attr-defined]
    expect(cards.first).to_be_visible(timeout=TIMEOUT_MS)
    expect(tab.locator(".nq-streaming")).to_have_count(0)  # type: ignore[attr-defined]
    return cards


def _assert_inert(tab: object) -> None:
    found = tab.evaluate(DANGEROUS)  # type: ignore[attr-defined]
    assert found == {"handlers": [], "scriptLinks": [], "remote": []}, found
    assert tab.dialogs == [], tab.dialogs  # type: ignore[attr-defined]
    assert tab.remote == [], tab.remote  # type: ignore[attr-defined]


def test_hostile_answers_and_passages_are_shown_as_text(page):
    cards = _ask(page, "What did the city gallery show in its new wing?", 1)
    gallery = cards.filter(has_text="City gallery")
    expect(gallery).to_have_count(1)
    for text in ["City gallery <img src=x onerror=alert(5)> reopens",
                 "<img src=x onerror=alert(1)>", "<svg onload=alert(2)>",
                 "[x](javascript[:]alert(3))", '<a href="javascript[:]alert(4)">the archive</a>',
                 f"![](hxxps[:]//{ATTACKER.replace('.', '[.]')}/?q=secret)"]:  # fmt: skip
        expect(gallery).to_contain_text(text)  # shown as text, links defanged
    # Open "More of the article" when the card has one (it depends on how much of the short
    # article the quote covers); closed or open, its markup is in the DOM _assert_inert checks.
    more = page.locator(".nq-context summary")
    if more.count():
        more.first.click()

    cards = _ask(page, "What does the gallery shop next to the new wing sell?", 2)
    shop = cards.filter(has_text="Gallery shop")
    expect(shop).to_have_count(1)
    expect(shop).to_contain_text("Gallery shop <svg onload=alert(7)> opens")
    assert shop.locator("a").count() == 0  # its javascript: URL is not made a link

    chat = page.locator("#nq-chat")
    assert chat.locator("img").count() == 0
    expect(chat).to_contain_text("It showed")  # the model's own sentence, markup removed
    _assert_inert(page)


def test_hostile_titles_in_the_library_are_shown_as_text(page):
    page.get_by_role("tab", name="Library").click()
    table = page.locator("#nq-library")
    expect(table).to_contain_text("City gallery <img src=x onerror=alert(5)> reopens",
                                  timeout=TIMEOUT_MS)  # fmt: skip
    expect(table).to_contain_text("Gallery shop <svg onload=alert(7)> opens")
    search = page.locator("#nq-search textarea")
    search.fill("gallery")
    search.press("Enter")
    expect(table).not_to_contain_text("Harbour Bridge")
    table.get_by_test_id("cell-0-0").click()
    expect(page.get_by_text("Selected:")).to_contain_text("Gallery shop <svg onload=alert(7)>")
    _assert_inert(page)
