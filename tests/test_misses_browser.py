"""Issue 29, Compare in Chromium at 1280 px: the miss flag for a Chinese query against MiniLM, a pinned file whose
ranks follow every query, and file names on result cards that wrap only at a path separator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app_server import ARTIFACTS, CHROMIUM, browser_page, running_app
from tests.test_page_tour_browser import settle

JWT_QUERY = "如何实现基于 JWT 的用户鉴权？"
PINNED = "code/lumen/jwt_middleware.py"
BUILD_TIMEOUT_MS = 15 * 60 * 1000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]

# Where the browser breaks the lines of each card's file name when its card is squeezed to 200 px: for every
# line after the first, the characters on either side of the break.
_NAME_BREAKS = """() => {
  const out = [];
  for (const s of document.querySelectorAll('[data-testid="stColumn"] [data-testid="stMarkdownContainer"] strong')) {
    const text = s.textContent;
    if (!/\\.(md|py|pdf|yaml|txt)$/.test(text.replace(/\\u200b/g, ''))) continue;
    const box = s.closest('[data-testid="stMarkdownContainer"]');
    const old = box.style.width;
    box.style.width = '200px';
    const node = s.firstChild;
    const range = document.createRange();
    let top = null;
    for (let i = 0; i < text.length; i++) {
      range.setStart(node, i); range.setEnd(node, i + 1);
      const r = range.getClientRects()[0];
      if (!r) continue;
      if (top !== null && r.top > top + 2) out.push([text, text[i - 1], text[i]]);
      top = r.top;
    }
    box.style.width = old;
  }
  return out;
}"""


def test_compare_says_the_miss_follows_a_pinned_file_and_breaks_names_at_slashes(tmp_path, shared_store_dir):
    with running_app(shared_store_dir, tmp_path / "streamlit.log") as url, browser_page(width=1280) as page:
        page.goto(url)
        page.get_by_role("button", name="Load the sample corpus").click()
        page.get_by_text(re.compile(r"Ready in [0-9.]+ s")).wait_for(timeout=BUILD_TIMEOUT_MS)
        page.get_by_role("link", name="Compare").first.click()
        box = page.get_by_label("Query", exact=True)
        box.wait_for(timeout=60_000)
        box.fill(JWT_QUERY)
        box.press("Enter")
        page.get_by_text("Found by both").wait_for(timeout=120_000)
        settle(page)

        # the miss flag: the English-only MiniLM answers a Chinese question from Chinese chunks and says so
        alert = page.locator('[data-testid="stAlert"]').filter(has_text="returns no English chunk")
        alert.first.wait_for(timeout=30_000)
        assert re.search(r"[AB] returns no English chunk in its top 10; \d+% of the corpus is English",
                         alert.first.inner_text())  # fmt: skip

        # pin a file: its best rank in both lists shows for this query and the next
        pin = page.get_by_role("combobox", name="Pin a file")
        pin.click()
        page.keyboard.type("jwt_middleware")
        page.get_by_role("option", name=PINNED).first.click()
        line = page.locator('[data-testid="stAlert"]').filter(has_text=PINNED)
        line.first.wait_for(timeout=60_000)
        settle(page)
        first = line.first.inner_text()
        assert re.search(r"A #\d+, B #\d+", first), first
        page.screenshot(path=str(ARTIFACTS / "compare_misses_pinned.png"), full_page=True)

        box.fill("Explain the consensus mechanism in blockchain")
        box.press("Enter")
        page.wait_for_function(
            "(before) => [...document.querySelectorAll('[data-testid=stAlert]')].some("
            "a => a.innerText.includes('jwt_middleware') && a.innerText !== before)",
            arg=first,
            timeout=120_000,
        )
        settle(page)
        assert re.search(r"A #\d+, B #\d+", line.first.inner_text())
        page.get_by_role("heading", level=4).filter(has_text="B ·").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "compare_misses_cards.png"))

        # a card's file name wraps after a '/' (the break opportunity after it) or a '-', never inside a word
        breaks = page.evaluate(_NAME_BREAKS)
        assert breaks, "no card file name wrapped at 200 px: the check did not run"
        mid_word = [b for b in breaks if b[1] not in "/\u200b-" and b[2] != "\u200b"]
        assert not mid_word, mid_word

        # the disagreement list: figures on one line, and each row says which side looked better
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text(re.compile(r"better by labels|no judged hit")).first.wait_for(timeout=180_000)
        settle(page)
        heights = page.evaluate(
            """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"] p')]
                 .filter(p => /^RBO .* · overlap/.test(p.innerText))
                 .map(p => [p.innerText, p.getBoundingClientRect().height,
                            parseFloat(getComputedStyle(p).lineHeight)])"""
        )
        assert len(heights) >= 5, heights
        wrapped = [h for h in heights if h[1] > 1.5 * h[2]]
        assert not wrapped, wrapped
        page.get_by_text("Where do they disagree most?").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "compare_disagreement.png"))
        assert page.locator('[data-testid="stException"]').count() == 0
