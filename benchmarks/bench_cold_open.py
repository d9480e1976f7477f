"""Cold first open in Chromium: a fresh app process, the browser opens the Home page -> the app is on screen.

Run: python benchmarks/bench_cold_open.py [--quick]

Each repeat starts the app anew (tests/app_server.py: `streamlit run` on 127.0.0.1 with an empty store, so the
first script run imports everything the Home page needs, as after a restart), launches headless /usr/bin/chromium
at 1280 x 800 and opens the page. Figures, from the navigation start (performance.now() in the page):
- "title painted": the Home page's title is in the DOM and visible (the app is showing, not a blank page);
- "status painted": the Status panel at the bottom of the Home page is drawn (the first run has ended).
Beside them, what the imports of the Home page's modules cost in a fresh interpreter (python -X importtime).
Issue 29 target: the app shows within 2 s of opening it on a quiet 2-core machine (it was a blank page for 5 s:
torch, transformers and scipy were imported before the first element was drawn).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, info, load_average, median, parse_args, ratio

sys.path.insert(0, str(ROOT))

from tests.app_server import browser_page, running_app

TIMEOUT_MS = 120_000
HOME_IMPORTS = "import streamlit; from ui import bundle, pair, resources, state, widgets"


def import_seconds() -> float:
    """Seconds a fresh interpreter spends importing the Home page's modules (python -X importtime, cumulative)."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and a fixed command)
        [sys.executable, "-X", "importtime", "-c", HOME_IMPORTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=True,
    )
    total = 0
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):  # top-level imports only: their cumulative times add up
            total += int(m.group(1))
    return total / 1e6


def heavy_modules() -> list[str]:
    """Which of the heavy libraries the Home page's imports pull in (none should be)."""
    probe = (
        HOME_IMPORTS
        + "; import sys; print(' '.join(m for m in ('torch', 'transformers', 'sentence_transformers', 'scipy', "
        "'altair', 'qdrant_client', 'bm25s') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter and a fixed command)
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    return out.stdout.split()


def one_open() -> tuple[float, float, float]:
    """(server start to healthy s, title painted ms, status painted ms) for one cold start."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with running_app(Path(tmp) / "store", Path(tmp) / "streamlit.log") as url:
            healthy = time.perf_counter() - started
            with browser_page(width=1280, height=800) as page:
                page.goto(url, wait_until="commit")
                title = page.get_by_role("heading", name="Retrieval Compare", level=1, exact=True)
                title.wait_for(state="visible", timeout=TIMEOUT_MS)
                title_ms = float(page.evaluate("() => performance.now()"))
                page.get_by_role("heading", name="Status", exact=True).wait_for(
                    state="visible", timeout=TIMEOUT_MS
                )
                status_ms = float(page.evaluate("() => performance.now()"))
    return healthy, title_ms, status_ms


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info("load average", load_average())
    info("Home page imports in a fresh interpreter", f"{import_seconds():.2f} s")
    info("heavy libraries those imports pull in", ", ".join(heavy_modules()) or "none")
    runs = [one_open() for _ in range(1 if args.quick else 3)]
    for healthy, title_ms, status_ms in runs:
        info(
            "cold start",
            f"server healthy {healthy:.1f} s · title {title_ms:.0f} ms · status {status_ms:.0f} ms",
        )
    ratio(
        "cold open/title painted ms",
        median([t for _, t, _ in runs]),
        target=2000,
        op="<=",
        note="Chromium 1280 px, fresh app process, from navigation start",
    )
    ratio("cold open/status painted ms", median([s for _, _, s in runs]), target=2000, op="<=", report=True)


if __name__ == "__main__":
    main()
