"""The environment AppTest page tests run in: a given embedding store, the repository root as working folder; the
app started from its real entrypoint, and what a page shows as plain text."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
STORE_VAR = "RETRIEVAL_COMPARE_STORE"


@contextlib.contextmanager
def use_store(path: Path | str) -> Iterator[Path]:
    """RETRIEVAL_COMPARE_STORE=path and cwd = the repository root (page links resolve); restored afterwards."""
    old = os.environ.get(STORE_VAR)
    os.environ[STORE_VAR] = str(path)
    os.chdir(ROOT)
    try:
        yield Path(path)
    finally:
        if old is None:
            os.environ.pop(STORE_VAR, None)
        else:
            os.environ[STORE_VAR] = old


def app(path: str = "streamlit_app.py") -> AppTest:
    """An app started from the real entrypoint (so page links resolve), switched to ``path`` (a page file)."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    if path != "streamlit_app.py":
        at.switch_page(path)
    return at


def shown(at: AppTest) -> str:
    """Everything a page wrote (markdown, captions, alerts) as one text, backslash escapes removed."""
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "success", "error")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts).replace("\\", "")
