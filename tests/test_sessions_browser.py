"""Issue 29, sessions that survive, in Chromium at 1280 px: a reload in the middle of a build comes back with the
corpus and models, says the build did not finish, and a Resume builds the indexes (embedding only what the stopped
build had not stored); a stopped build keeps its finished model pass and its finished batches. Screenshots in
test-artifacts/sessions/."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from core.store import EmbeddingStore
from tests.app_server import ARTIFACTS, CHROMIUM, browser_page, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]

SHOTS = ARTIFACTS / "sessions"
LONG_MS = 10 * 60 * 1000


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    SHOTS.mkdir(parents=True, exist_ok=True)
    store = tmp_path_factory.mktemp("sessions-browser-store")
    old = os.environ.get("RETRIEVAL_COMPARE_RESTORE")
    os.environ["RETRIEVAL_COMPARE_RESTORE"] = (
        "1"  # the test suite turns it off for AppTest (tests/conftest.py)
    )
    try:
        with running_app(store, tmp_path_factory.mktemp("log") / "streamlit.log") as url:
            with browser_page(width=1280, height=900) as pg:
                pg.store_dir = store
                pg.goto(url)
                yield pg
    finally:
        if old is None:
            os.environ.pop("RETRIEVAL_COMPARE_RESTORE", None)
        else:
            os.environ["RETRIEVAL_COMPARE_RESTORE"] = old


def shot(page, name: str) -> None:
    page.mouse.move(640, 5)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sidebar_ticks(page) -> int:
    """The models the sidebar marks as built (their check_circle icons)."""
    return page.locator("[data-testid='stSidebar']").inner_text().count("check_circle")


def _beir_zip(name: str, n: int) -> bytes:
    docs = [
        f"{name} {i}: the invoice {i * 13} was refunded after {i % 9 + 1} days by the {name} desk."
        for i in range(n)
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            f"{name}/corpus.jsonl",
            "\n".join(json.dumps({"_id": f"d{i}", "text": t}) for i, t in enumerate(docs)),
        )
        z.writestr(f"{name}/queries.jsonl", json.dumps({"_id": "q0", "text": "which invoice was refunded"}))
        z.writestr(f"{name}/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq0\td1\t1\n")
    return buf.getvalue()


def _upload_beir(page, tmp_path: Path, name: str, n: int) -> None:
    page.get_by_role("link", name="Evaluate").first.click()
    page.get_by_text("upload qrels or a BEIR zip").click()
    path = tmp_path / f"{name}.zip"
    path.write_bytes(_beir_zip(name, n))
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))
    page.get_by_text(re.compile(f"Loaded {n} documents, 1 queries")).wait_for(timeout=LONG_MS)


def test_a_reload_mid_build_comes_back_with_the_corpus_and_then_its_indexes(page, tmp_path):
    _upload_beir(page, tmp_path, "tickets", 160)
    page.get_by_role("button", name="Build both indexes").click()
    page.get_by_text(re.compile(r"Build both indexes · model 1 of 2 · A · .*: [1-9][0-9,]*/160 ")).wait_for(
        timeout=LONG_MS
    )
    shot(page, "1-building")
    page.reload()
    restored = page.get_by_text(
        re.compile(r"Restored your last session \(corpus .*160 chunks; models A .* / B ")
    )
    restored.wait_for(timeout=LONG_MS)
    unfinished = page.get_by_text(
        re.compile(r"The last build \(Build both indexes\) did not finish: it stopped after")
    )
    unfinished.wait_for(timeout=LONG_MS)
    shot(page, "2-reloaded")
    assert "No corpus loaded" not in page.inner_text("body")
    assert "160 chunks" in page.locator("[data-testid='stSidebar']").inner_text()
    assert sidebar_ticks(page) == 0
    page.get_by_role("button", name="Resume the build").click()
    try:
        unfinished.wait_for(state="detached", timeout=LONG_MS)  # the build finished, the page reran
        page.wait_for_timeout(1000)
    finally:
        shot(page, "3-resumed")
    assert sidebar_ticks(page) == 2
    assert unfinished.count() == 0  # finished: no longer offered
    assert page.get_by_role("button", name="Resume the build").count() == 0


def test_a_stopped_build_keeps_its_finished_pass(page, tmp_path):
    _upload_beir(page, tmp_path, "orders", 150)
    page.get_by_role("button", name="Build both indexes").click()
    # model A's pass is finished once the bar is on model B
    page.get_by_text(re.compile(r"Build both indexes · model 2 of 2 · B · .*: [1-9][0-9,]*/150 ")).wait_for(
        timeout=LONG_MS
    )
    page.get_by_role("button", name="Cancel build", disabled=False).first.click()  # the running build's
    stopped = page.get_by_text(re.compile(r"Build both indexes: Cancelled after [0-9,]+ of 300 chunks"))
    stopped.wait_for(timeout=LONG_MS)
    shot(page, "4-stopped")
    text = stopped.inner_text()
    saved = int(
        re.search(r"([0-9,]+) newly embedded chunks are saved in the store", text).group(1).replace(",", "")
    )
    done = int(re.search(r"Cancelled after ([0-9,]+) of", text).group(1).replace(",", ""))
    assert saved == done > 150, text  # A's whole pass and every finished batch of B, nothing lost
    # in the store: every tickets chunk (first test) plus A's whole orders pass; B's finished orders batches
    held = sorted(m["vectors"] for m in EmbeddingStore(page.store_dir).stats()["models"].values())
    assert held == sorted([160 + 150, 160 + saved - 150]), held
    page.get_by_role("button", name="Build both indexes").click()
    page.get_by_text("Last build: estimate vs actual").wait_for(timeout=LONG_MS)
    page.wait_for_timeout(1000)
    shot(page, "5-rebuilt")
    assert sidebar_ticks(page) == 2
    held = sorted(m["vectors"] for m in EmbeddingStore(page.store_dir).stats()["models"].values())
    assert held == [160 + 150, 160 + 150], held  # the rebuild embedded only what B had not finished
