"""The environment AppTest page tests run in: a given embedding store, the repository root as working folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

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
