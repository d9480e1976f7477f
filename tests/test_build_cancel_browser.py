"""A real Cancel click in Chromium while a build runs (what AppTest cannot do): Home's Rebuild from scratch, the
Corpus page's sample from the bundle, the Evaluate page's BEIR build. Screenshots in test-artifacts/builds/."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import pytest

from tests.app_server import ARTIFACTS, CHROMIUM, browser_page, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]

SHOTS = ARTIFACTS / "builds"
LONG_MS = 10 * 60 * 1000


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    SHOTS.mkdir(parents=True, exist_ok=True)
    store = tmp_path_factory.mktemp("builds-browser-store")
    with running_app(store, tmp_path_factory.mktemp("log") / "streamlit.log") as url:
        with browser_page(width=1280, height=900) as pg:
            pg.goto(url)
            yield pg


def shot(page, name: str) -> None:
    page.mouse.move(640, 5)  # no tooltip over the buttons
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sidebar_ticks(page) -> int:
    return (
        page.locator("[data-testid='stSidebar'] [data-testid='stIconMaterial']")
        .filter(has_text="check_circle")
        .count()
    )


def test_cancel_a_running_rebuild_keeps_the_precomputed_indexes(page):
    quick = page.get_by_role("button", name="Load the sample corpus")
    quick.wait_for(timeout=LONG_MS)  # the first page load imports torch and the models' code
    quick.click()
    page.get_by_text(re.compile(r"Ready in [0-9.]+ s: 460 chunks, every vector precomputed")).wait_for(
        timeout=LONG_MS
    )
    shot(page, "home-ready")
    ticks = sidebar_ticks(page)
    page.get_by_role("button", name="Rebuild from scratch").click()
    bar = page.get_by_text(re.compile(r"Rebuild from scratch · model 1 of 2 · A · .*: [1-9][0-9,]*/460 "))
    bar.wait_for(timeout=LONG_MS)
    shot(page, "home-rebuild-running")
    clicked = time.perf_counter()
    page.get_by_role("button", name="Cancel build").click()
    try:  # Streamlit ends the run at the next progress update: after the batch in flight (32 chunks)
        page.get_by_text(re.compile(r"Rebuild from scratch: Cancelled after [0-9,]+ of 920 chunks")).wait_for(
            timeout=LONG_MS
        )
    finally:
        shot(page, "home-rebuild-cancelled")
    print(f"cancel took effect {time.perf_counter() - clicked:.1f} s after the click")
    text = page.get_by_text(re.compile("Cancelled after")).inner_text()
    assert "the previous indexes are kept" in text, text
    assert (
        page.get_by_text(re.compile(r"Ready in [0-9.]+ s")).count() == 1
    )  # still ready: nothing was replaced
    assert sidebar_ticks(page) == ticks


def test_the_corpus_page_shows_the_sample_from_the_bundle(page):
    page.get_by_role("link", name="Corpus").first.click()
    page.get_by_role("button", name="Load the sample corpus").click()
    page.get_by_text(re.compile(r"460 chunks, every vector precomputed")).wait_for(timeout=LONG_MS)
    page.get_by_role("button", name="Cancel build").wait_for()
    shot(page, "corpus-sample-from-bundle")


def _beir_zip(n: int) -> bytes:
    docs = [f"Ticket {i}: the invoice {i * 13} was refunded after {i % 9 + 1} days." for i in range(n)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "tickets/corpus.jsonl",
            "\n".join(json.dumps({"_id": f"d{i}", "text": t}) for i, t in enumerate(docs)),
        )
        z.writestr("tickets/queries.jsonl", json.dumps({"_id": "q0", "text": "which invoice was refunded"}))
        z.writestr("tickets/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq0\td1\t1\n")
    return buf.getvalue()


def test_the_evaluate_page_builds_a_beir_set_with_a_cancel(page, tmp_path):
    page.get_by_role("link", name="Evaluate").first.click()
    page.get_by_text("upload qrels or a BEIR zip").click()
    path = tmp_path / "tickets.zip"
    path.write_bytes(_beir_zip(120))
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))
    page.get_by_text(re.compile("Loaded 120 documents, 1 queries")).wait_for(timeout=LONG_MS)
    shot(page, "evaluate-beir-before-build")
    page.get_by_role("button", name="Build both indexes").click()
    page.get_by_text(re.compile(r"Build both indexes · model 1 of 2 · A · .*: [1-9][0-9,]*/120 ")).wait_for(
        timeout=LONG_MS
    )
    shot(page, "evaluate-beir-building")
    page.get_by_role("button", name="Cancel build").click()
    page.get_by_text(re.compile(r"Build both indexes: Cancelled after [0-9,]+ of 240 chunks")).wait_for(
        timeout=LONG_MS
    )
    shot(page, "evaluate-beir-cancelled")
    assert "no index was replaced" in page.get_by_text(re.compile("Cancelled after")).inner_text()
    page.get_by_role("button", name="Build both indexes").click()
    page.get_by_text("Last build: estimate vs actual").wait_for(timeout=LONG_MS)
    shot(page, "evaluate-beir-built")
