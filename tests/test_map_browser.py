"""The Map page in Chromium at 1280 px after the home quick start: the chart draws, the region table shows every
column without scrolling sideways, and a region's query opens Compare with that query in its box.

Screenshot: test-artifacts/pages/map.png (looked at by a person).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app_server import ARTIFACTS, CHROMIUM, browser_page, running_app

BUILD_TIMEOUT_MS = 15 * 60 * 1000
SHOTS = ARTIFACTS / "pages"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]

OVERFLOW_JS = """(el) => { const s = el.querySelector('.dvn-scroller');
  return s ? s.scrollWidth - s.clientWidth : -1; }"""
SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"], [data-testid="stSpinner"], [data-testid="stSkeleton"]');
}"""


def _full_page(page, path: Path) -> None:
    """Streamlit scrolls inside its main block, so a tall viewport is what shows the whole page."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 3000")
    page.set_viewport_size({"width": 1280, "height": int(height) + 100})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_timeout(500)


def test_map_page_at_1280px_and_a_query_opens_compare(tmp_path_factory, shared_store_dir):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with running_app(shared_store_dir, tmp_path_factory.mktemp("log") / "streamlit.log") as url:
        with browser_page(width=1280, height=900) as page:
            page.goto(url)
            page.get_by_role("button", name="Load the sample corpus").click(timeout=300_000)
            page.get_by_text(re.compile(r"Ready in [0-9.]+ s")).wait_for(timeout=BUILD_TIMEOUT_MS)
            page.get_by_role("link", name="Map", exact=True).first.click()
            try:
                page.get_by_text("Moved most").first.wait_for(
                    timeout=600_000
                )  # the first layout compiles UMAP
                page.wait_for_function(
                    '() => document.querySelector(\'[data-testid="stVegaLiteChart"] canvas, '
                    '[data-testid="stVegaLiteChart"] svg.marks\')',
                    timeout=60_000,
                )
                page.wait_for_function(SETTLED_JS, timeout=120_000)
            except Exception:
                page.screenshot(path=str(SHOTS / "map_failed.png"))
                raise
            page.wait_for_timeout(1500)
            _full_page(page, SHOTS / "map.png")
            assert page.locator('[data-testid="stException"]').count() == 0
            main = page.locator('[data-testid="stMain"]').inner_text()
            assert "**" not in main, "raw Markdown on the page"
            regions = page.locator('[data-testid="stDataFrame"]').first
            regions.scroll_into_view_if_needed()
            page.wait_for_timeout(800)
            regions.screenshot(path=str(SHOTS / "map_regions.png"))
            assert regions.evaluate(OVERFLOW_JS) <= 1, "the region table scrolls sideways at 1280 px"

            button = page.get_by_role("button", name="Open in Compare").first
            row = button.locator("xpath=ancestor::*[@data-testid='stHorizontalBlock'][1]")
            query = row.locator('[data-testid="stColumn"]').first.inner_text().strip()
            button.click()
            box = page.get_by_label("Query", exact=True)
            box.wait_for(timeout=120_000)
            page.wait_for_function(SETTLED_JS, timeout=300_000)
            page.screenshot(path=str(SHOTS / "map_to_compare.png"))
            assert box.input_value() == query, (box.input_value(), query)
            assert page.locator('[data-testid="stException"]').count() == 0
