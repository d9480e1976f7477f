"""Uploads: Streamlit's size limit equals core's, core enforces it without Streamlit, and the readers survive fuzzing.

The fuzz tests here are bounded for CI (a few hundred cases, well under a minute); tests/fuzz/run_long.py
runs the same targets for as long as you like and prints the case counts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from core.ingest import Limits, load_files
from core.ingest.options import MB
from tests import fixtures_ingest as fx
from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parent.parent
CI_EXAMPLES = {"pdf": 60, "zip": 80, "text": 150, "beir": 50}


def test_streamlit_upload_limit_equals_core_limit(monkeypatch):
    """Ask Streamlit itself what it reads from .streamlit/config.toml (as `streamlit run` in the repo does)."""
    from streamlit import config

    monkeypatch.chdir(ROOT)
    options = config.get_config_options(force_reparse=True)
    option = options["server.maxUploadSize"]
    assert Path(option.where_defined) == ROOT / ".streamlit" / "config.toml", option.where_defined
    assert option.value * MB == Limits().max_file_bytes, (
        f".streamlit/config.toml maxUploadSize={option.value} MB but core Limits().max_file_bytes="
        f"{Limits().max_file_bytes / MB:g} MB: change both together"
    )


def test_core_refuses_oversized_file_without_streamlit():
    limits = Limits(max_file_bytes=1000, max_total_bytes=1500)
    big = b"word " * 300  # 1500 bytes
    files = [("big.txt", big), ("ok.md", b"# one\n\n" + b"a " * 400), ("ok2.md", b"# two\n\n" + b"b " * 400)]
    corpus = load_files(files, limits=limits)
    status = {f.source: f for f in corpus.files}
    assert status["big.txt"].status == "skipped"
    assert "big.txt" in status["big.txt"].reason and "Limits.max_file_bytes" in status["big.txt"].reason
    assert status["ok.md"].status == "loaded"
    assert status["ok2.md"].status == "skipped" and "total size limit" in status["ok2.md"].reason


def test_core_refuses_zip_bomb_with_the_numbers():
    corpus = load_files([("bomb.zip", fx.zip_bomb(20))], limits=Limits(zip_max_total_bytes=10 * MB))
    (status,) = corpus.files
    assert status.status == "skipped"
    assert "zip bomb" in status.reason and "MB" in status.reason and "bomb.zip" in status.reason
    assert not corpus.chunks


def _fuzz(kind: str):
    strategy, check = TARGETS[kind]

    @settings(max_examples=CI_EXAMPLES[kind], deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(strategy)
    def run(data: bytes) -> None:
        check(data)

    return run


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_reader_fuzz_no_uncaught_exception_and_every_rejection_has_a_message(kind):
    _fuzz(kind)()
