"""Shared fixtures: offline hub, an isolated embedding store per test session."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402


@pytest.fixture()
def store_dir(tmp_path, monkeypatch):
    """A fresh embedding store directory, also exported as RETRIEVAL_COMPARE_STORE."""
    d = tmp_path / "store"
    monkeypatch.setenv("RETRIEVAL_COMPARE_STORE", str(d))
    return d
