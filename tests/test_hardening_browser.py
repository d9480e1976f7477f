"""Real browser: hostile uploads (script tags, onerror images, javascript: links in text, file name, PDF title)
go through Corpus -> Models (bundled pair) -> Compare in Chromium; no script runs and the payload reads as text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.app_server import ARTIFACTS, CHROMIUM, browser_page, foreign_requests, running_app
from tests.test_hardening_render import EVIL_NAME, EVIL_TITLE, QUERY, RAW_URLS, evil_files
from ui.text import WORD_JOINER, short_path

BUILD_TIMEOUT_MS = 4 * 60 * 1000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    with running_app(store, tmp_path_factory.mktemp("log") / "streamlit.log") as url:
        with browser_page(width=1400, height=900) as pg:
            pg.goto(f"{url}/Corpus")
            yield pg


SCAN = """() => ({
  pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
  onerrorImgs: document.querySelectorAll('img[onerror], [onerror]').length,
  jsLinks: [...document.querySelectorAll('a[href]')].filter(a => a.href.trim().toLowerCase().startsWith('javascript')).length,
  payloadScripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__pwned')).length,
  columns: [...document.querySelectorAll('h4')].filter(h => /^[AB] ·/.test(h.innerText.trim()))
             .map(h => h.closest('[data-testid="stColumn"]').innerText),
  columnLinks: [...document.querySelectorAll('h4')].filter(h => /^[AB] ·/.test(h.innerText.trim()))
             .flatMap(h => [...h.closest('[data-testid="stColumn"]').querySelectorAll('a:not([href^="#"])')]
                  .map(a => a.outerHTML)),  // Streamlit's own heading anchors (#a-model) aside
})"""


def test_hostile_upload_renders_as_text_and_runs_no_script(page):
    page.locator("input[type=file]").first.set_input_files(
        [{"name": name, "mimeType": mime, "buffer": data} for name, data, mime in evil_files()]
    )
    page.get_by_text("Files loaded").wait_for(timeout=120_000)
    page.get_by_role("link", name="Models").first.click()
    build = page.get_by_role("button", name="Build both indexes")
    build.wait_for(timeout=120_000)
    build.click()
    page.get_by_text("Build stats").wait_for(timeout=BUILD_TIMEOUT_MS)

    page.get_by_role("link", name="Compare").first.click()
    box = page.get_by_label("Query", exact=True)
    box.wait_for(timeout=60_000)
    box.fill(QUERY)
    box.press("Enter")
    for slot in "AB":
        page.get_by_role("heading", level=4).filter(has_text=f"{slot} ·").wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    cards = page.locator('[data-testid="stColumn"] button')  # not the toggle's help icon, which names the button
    opener = cards.filter(has_text="Whole chunk")
    if opener.count() == 0:  # the cards' actions are behind a toggle (lighter cards by default)
        page.get_by_test_id("stCheckbox").get_by_text("Label results and open whole chunks").click()
        opener.first.wait_for(timeout=60_000)
    closer = cards.filter(has_text="Hide the chunk")
    for _ in range(20):  # open every chunk, one rerun at a time: PDF titles and the raw text show inside
        if opener.count() == 0:
            break
        shown = closer.count()
        opener.first.click()
        expect(closer).to_have_count(shown + 1, timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "hardening_compare.png"), full_page=True)

    found = page.evaluate(SCAN)
    assert not page.dialogs, f"a payload opened a dialog: {page.dialogs}"
    assert found["pwned"] is None, f"a payload ran: window.__pwned = {found['pwned']}"
    assert found["onerrorImgs"] == 0 and found["jsLinks"] == 0 and found["payloadScripts"] == 0, found
    assert len(found["columns"]) == 2, found["columns"]
    assert not found["columnLinks"], f"document text became links: {found['columnLinks']}"
    for text in found["columns"]:
        flat = " ".join(text.replace(WORD_JOINER, "").split())
        assert "<script>window.__pwned='script';alert('xss')</script>" in flat
        assert "<img src=x onerror=\"window.__pwned='img'\">" in flat
        assert "[click me](javascript:window.__pwned='mdlink')" in flat
        assert short_path(EVIL_NAME) in flat  # a long name is cut in the middle; the full one is on hover
        assert EVIL_TITLE in flat
        for url in RAW_URLS:
            assert url in flat, f"{url} should read as text"
    assert not [e for e in page.errors if "__pwned" in e], page.errors
    assert not foreign_requests(page.requests, page.url), foreign_requests(
        page.requests, page.url
    )  # not even 127.0.0.1:9
