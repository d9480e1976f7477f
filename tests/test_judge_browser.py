"""Real browser, end to end: judge three pooled queries blind, cast three blind votes, evaluate on the judgments."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.app_server import ARTIFACTS, CHROMIUM, browser_page, running_app

BUILD_TIMEOUT_MS = 15 * 60 * 1000
SHOTS = ARTIFACTS / "judge"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture()
def store(tmp_path, shared_store_dir) -> Path:
    """A fresh store (no judgments, no votes) with the run's stored embeddings copied in, when there are any."""
    fresh = tmp_path / "store"
    fresh.mkdir()
    for part in ("embeddings", "blobs"):
        if (shared_store_dir / part).is_dir():
            shutil.copytree(shared_store_dir / part, fresh / part)
    return fresh


def _count(page, pattern: str) -> int:
    """The first number of the first progress text matching 'pattern N / M'."""
    text = page.get_by_text(re.compile(pattern)).first.inner_text()
    return int(re.search(pattern + r"\s*(\d+)", text).group(1))


def test_judge_three_queries_and_cast_three_votes(store, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with running_app(store, tmp_path / "streamlit.log") as url, browser_page() as page:
        try:
            _judge_vote_evaluate(page, url)
        except Exception:
            page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
            raise
    _check_store(store)


def _judge_vote_evaluate(page, url: str) -> None:
    """Quick start, three pooled queries judged, three blind votes, an evaluation on the pooled judgments."""
    page.goto(url)
    quick = page.locator(".st-key-home_quick button")  # the home page's quick start
    quick.wait_for(timeout=180_000)  # the first page imports torch: slow on a busy machine
    quick.click()
    page.get_by_text(re.compile(r"Ready in [0-9.]+ s")).wait_for(timeout=BUILD_TIMEOUT_MS)

    page.get_by_role("link", name="Judge (blind)").first.click()
    name = page.get_by_label("Your name (rater)")
    name.wait_for(timeout=60_000)
    page.get_by_text("Type your name").wait_for()
    k_box = page.get_by_label("Pool depth k")
    k_box.fill("2")
    k_box.press("Enter")
    name.fill("browser rater")
    name.press("Enter")
    page.get_by_text("Queries done:").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "judge.png"), full_page=True)
    clicks = 0
    while _count(page, "Queries done:") < 3:
        before = _count(page, "Pooled chunks judged:")
        page.get_by_role("button", name=re.compile("highly relevant|not relevant")).nth(clicks % 2).click()
        page.wait_for_function(
            "(b) => [...document.querySelectorAll('p')].some(p => /Pooled chunks judged: (\\d+)/.test(p.innerText)"
            " && Number(p.innerText.match(/Pooled chunks judged: (\\d+)/)[1]) > b)",
            arg=before,
            timeout=60_000,
        )
        clicks += 1
        assert clicks < 40, "three queries of pool depth 2 need at most 12 labels"
    page.screenshot(path=str(SHOTS / "judge_after.png"), full_page=True)
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "MiniLM" not in body and "e5" not in body, "a model name on the blind Judge page"

    page.wait_for_timeout(1500)  # let the last label's rerun finish before leaving the page
    page.get_by_role("link", name="Blind A/B votes").first.click()
    page.get_by_text("Queries voted:").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "votes.png"), full_page=True)
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "MiniLM" not in body and "e5" not in body, "a model name before the vote"
    for i, choice in enumerate(("Left is better", "Right is better", "Tie")):
        page.get_by_role("button", name=choice, exact=True).click()
        page.get_by_text("Left was").wait_for(timeout=60_000)
        if i == 2:
            page.get_by_text("95% Wilson interval", exact=True).wait_for(timeout=60_000)
            page.screenshot(path=str(SHOTS / "votes_revealed.png"), full_page=True)
        page.get_by_role("button", name="Next query").click()
        page.get_by_text(f"Query {i + 2} of").wait_for(timeout=60_000)  # the next card, not the reveal
        assert page.get_by_text(f"Queries voted: {i + 1} /").count() == 1

    page.get_by_role("link", name="Evaluate").first.click()
    page.get_by_text("pooled judgments").first.click()
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_text("How much of each top 10 was judged").wait_for(timeout=180_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "evaluate.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.errors, page.errors


def _check_store(store: Path) -> None:
    from core.judging.store import JudgmentStore

    corpus_files = list((store / "judgments").glob("*.sqlite"))
    assert len(corpus_files) == 1
    saved = JudgmentStore(corpus_files[0])
    mine = [j for j in saved.judgments(origin="pooled") if j.rater == "browser rater"]
    assert len({j.query_id for j in mine}) == 3 and all(j.pool_depth == 2 for j in mine)
    cast = [v for v in saved.votes() if v.rater == "browser rater"]
    assert [v.winner for v in cast] == ["left", "right", "tie"]
