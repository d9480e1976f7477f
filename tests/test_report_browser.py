"""The report in a real Chromium with every network request blocked: charts render, print gives clean pages.

Artifacts (looked at before calling the work done): test-artifacts/report/report-A4.pdf, report-Letter.pdf,
screen.png (1280 px), and print-page-N.png (the page at print media, cut at A4 page height).
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import pytest

from tests.app_server import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.test_report import SAMPLE, run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OUT = ARTIFACTS / "report"


@pytest.fixture(scope="module")
def report_file(shared_store_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-browser") / "report.html"
    run_cli(
        "report", "--corpus", str(SAMPLE), "--model", "all-MiniLM-L6-v2", "--model", "multilingual-e5-small",
        "--store", str(shared_store_dir), "--out", str(out),
    )  # fmt: skip
    return out


def _norm(text: str) -> str:
    """Whitespace collapsed and PDF ligatures (ﬁ, ﬀ) unfolded."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text))


@pytest.mark.timeout(2400)  # the fixture measures a whole report (see tests/test_report.py)
def test_report_renders_offline_and_prints_without_split_charts(report_file):
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    OUT.mkdir(parents=True, exist_ok=True)
    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})

            def gate(route):
                if route.request.url.startswith("file:"):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            context.route("**/*", gate)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report_file.as_uri())
            page.wait_for_load_state("load")
            charts = page.locator("figure.chart svg")
            assert charts.count() >= 4
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 100, (i, box)
                assert charts.nth(i).locator("text").count() > 3  # axes and labels drawn
            assert page.locator("section").count() == 8
            page.screenshot(path=str(OUT / "screen.png"), full_page=True)
            titles = page.locator("figure.chart .title").all_inner_texts()
            captions = page.locator("figure.chart figcaption").all_inner_texts()
            page.emulate_media(media="print")
            pages_text = {}
            for fmt in ("A4", "Letter"):
                pdf = page.pdf(format=fmt, print_background=True)
                (OUT / f"report-{fmt}.pdf").write_bytes(pdf)
                reader = PdfReader(io.BytesIO(pdf))
                pages_text[fmt] = [_norm(pg.extract_text() or "") for pg in reader.pages]
                assert len(reader.pages) >= 3
            # the same page at print media, cut at A4 height (96 dpi: 794 x 1123 px less 14/12 mm margins)
            page.set_viewport_size({"width": 704, "height": 1017})
            total = page.evaluate("document.documentElement.scrollHeight")
            for n, top in enumerate(range(0, total, 1017)):
                page.screenshot(
                    path=str(OUT / f"print-page-{n + 1}.png"),
                    full_page=True,
                    clip={"x": 0, "y": top, "width": 704, "height": min(1017, total - top)},
                )
            assert errors == []
        finally:
            browser.close()
    assert blocked == []  # nothing but the file itself was requested
    for fmt, texts in pages_text.items():
        for title, caption in zip(titles, captions, strict=True):
            head = _norm(caption)[:25]
            on = [i for i, t in enumerate(texts) if _norm(title) in t]
            cap = [i for i, t in enumerate(texts) if head in t]
            assert on and cap and on[0] == cap[0], (fmt, title, on, cap)  # title and caption on one page
