"""Shared fixtures: offline hub, an isolated embedding store per test session."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# A fresh AppTest session would otherwise restore whatever session an earlier test left in the store
# (ui.last_session); the tests of that feature turn it on.
os.environ.setdefault("RETRIEVAL_COMPARE_RESTORE", "0")

import pytest


@pytest.fixture(scope="session")
def shared_store_dir(tmp_path_factory):
    """One embedding store for the app-level tests of a run (RETRIEVAL_COMPARE_TEST_STORE keeps it across runs)."""
    import pathlib

    kept = os.environ.get("RETRIEVAL_COMPARE_TEST_STORE")
    return pathlib.Path(kept) if kept else tmp_path_factory.mktemp("shared-store")


@pytest.fixture()
def store_dir(tmp_path, monkeypatch):
    """A fresh embedding store directory, also exported as RETRIEVAL_COMPARE_STORE."""
    d = tmp_path / "store"
    monkeypatch.setenv("RETRIEVAL_COMPARE_STORE", str(d))
    return d


@pytest.fixture(scope="session")
def tiny_qwen3_path(tmp_path_factory):
    """A tiny random Qwen3-architecture sentence-transformers folder (2560-dim output), built once."""
    from tests.qwen_tiny import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny_qwen3") / "model")
