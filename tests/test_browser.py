"""A real browser (Debian's chromium driven by Playwright) against the app the test starts on 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app_server import ARTIFACTS, CHROMIUM, browser_page, foreign_requests, running_app

JWT_QUERY = "如何实现基于 JWT 的用户鉴权？"
BUILD_TIMEOUT_MS = 15 * 60 * 1000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def page(tmp_path_factory, shared_store_dir):
    with running_app(shared_store_dir, tmp_path_factory.mktemp("log") / "streamlit.log") as url:
        with browser_page() as pg:
            pg.goto(url)
            yield pg


def test_quick_start_compare_and_slider(page):
    page.get_by_role("button", name="Load the sample corpus").click()
    # the status line, not the quick-start copy ("ready in seconds"): get_by_text matches substrings, any case
    page.get_by_text(re.compile(r"Ready in [0-9.]+ s")).wait_for(timeout=BUILD_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)

    page.get_by_role("link", name="Compare").first.click()
    box = page.get_by_label("Query", exact=True)
    box.wait_for(timeout=60_000)
    box.fill(JWT_QUERY)
    box.press("Enter")
    heading_a = page.get_by_role("heading", level=4).filter(has_text="A ·")
    heading_b = page.get_by_role("heading", level=4).filter(has_text="B ·")
    heading_a.wait_for(timeout=120_000)
    heading_b.wait_for(timeout=120_000)
    page.get_by_text("Found by both").wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)

    tops = page.evaluate(
        """() => {
        const out = {};
        for (const h of document.querySelectorAll('h4')) {
          const slot = h.innerText.trim().slice(0, 1);
          if (slot !== 'A' && slot !== 'B') continue;
          const col = h.closest('[data-testid="stColumn"]');
          const heads = [...col.querySelectorAll('strong')].map(s => s.innerText).filter(t => /\\.(md|py|pdf|txt|html|go|js|sql|yaml|csv|rst)/.test(t));
          out[slot] = heads;
        }
        return out;
        }"""
    )
    assert set(tops) == {"A", "B"}, tops
    assert tops["A"] and tops["B"], tops
    jwt_in_top3 = [any("jwt" in s.lower() or "jwks" in s.lower() for s in tops[slot][:3]) for slot in "AB"]
    assert any(jwt_in_top3), tops

    page.get_by_role("link", name="Dimensions").first.click()
    slider = page.get_by_role("slider").first
    slider.wait_for(timeout=120_000)
    page.get_by_text("· truncation").first.wait_for(timeout=120_000)
    before = slider.get_attribute("aria-valuetext")  # the dims shown on the slider, e.g. "128"
    slider.focus()
    slider.press("ArrowLeft")
    slider.press("ArrowLeft")
    page.wait_for_function(
        "(b) => { const s = document.querySelector('input[type=range]'); return s && s.getAttribute('aria-valuetext') !== b; }",
        arg=before,
        timeout=30_000,
    )
    assert int(slider.get_attribute("aria-valuetext")) < int(before)
    page.wait_for_timeout(2500)
    page.get_by_text("· truncation").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "dimensions.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.dialogs, "no script in the corpus may open a dialog"


def test_every_page_loads_only_from_the_app_itself(page):
    """Issue 18 item 12: no favicon, font or script from a CDN; every request goes to 127.0.0.1."""
    for name in ("Home", "Corpus", "Models", "Compare", "Dimensions", "Evaluate"):
        page.get_by_role("link", name=name).first.click()
        page.get_by_role("heading", level=1).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        icon = page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\")?.href || ''")
        assert icon.startswith(("data:", "http://127.0.0.1")), f"{name}: favicon from {icon[:80]}"
    assert page.requests, "the request listener saw nothing"
    assert not foreign_requests(page.requests, page.url), foreign_requests(page.requests, page.url)
