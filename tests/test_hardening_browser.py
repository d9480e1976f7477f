"""Real browser: hostile uploads (script tags, onerror images, javascript: links in text, file name, PDF title)
go through Corpus -> Models (bundled pair) -> Compare in Chromium; no script runs and the payload reads as text.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_hardening_render import EVIL_NAME, EVIL_TITLE, QUERY, evil_files

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
BUILD_TIMEOUT_MS = 4 * 60 * 1000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`streamlit run streamlit_app.py` on a free loopback port with its own store; stopped afterwards."""
    port = _free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "RETRIEVAL_COMPARE_STORE": str(tmp_path_factory.mktemp("store")),
    }
    log = (tmp_path_factory.mktemp("log") / "streamlit.log").open("wb")
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not become healthy within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        pg = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(f"{app_url}/Corpus")
        yield pg
        browser.close()


SCAN = """() => ({
  pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
  onerrorImgs: document.querySelectorAll('img[onerror], [onerror]').length,
  jsLinks: [...document.querySelectorAll('a[href]')].filter(a => a.href.trim().toLowerCase().startsWith('javascript')).length,
  payloadScripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__pwned')).length,
  columns: [...document.querySelectorAll('h4')].filter(h => /^[AB] ·/.test(h.innerText.trim()))
             .map(h => h.closest('[data-testid="stColumn"]').innerText),
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
    box = page.get_by_label("Query")
    box.wait_for(timeout=60_000)
    box.fill(QUERY)
    box.press("Enter")
    for slot in "AB":
        page.get_by_role("heading", level=4).filter(has_text=f"{slot} ·").wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    for summary in page.get_by_text("Whole chunk").all():  # open every chunk: PDF titles show inside
        summary.click()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "hardening_compare.png"), full_page=True)

    found = page.evaluate(SCAN)
    assert not page.dialogs, f"a payload opened a dialog: {page.dialogs}"
    assert found["pwned"] is None, f"a payload ran: window.__pwned = {found['pwned']}"
    assert found["onerrorImgs"] == 0 and found["jsLinks"] == 0 and found["payloadScripts"] == 0, found
    assert len(found["columns"]) == 2, found["columns"]
    for text in found["columns"]:
        flat = " ".join(text.split())
        assert "<script>window.__pwned='script';alert('xss')</script>" in flat
        assert "<img src=x onerror=\"window.__pwned='img'\">" in flat
        assert "[click me](javascript:window.__pwned='mdlink')" in flat
        assert EVIL_NAME in flat
        assert EVIL_TITLE in flat
    assert not [e for e in page.errors if "__pwned" in e], page.errors
