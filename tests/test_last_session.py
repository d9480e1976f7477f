"""Issue 29, sessions that survive: a stopped build keeps every finished batch (flushed on stop, and at least every
FLUSH_SECONDS), and a fresh session (a reload, a second tab) comes back to the last session's corpus, models and
indexes, and says when the last build did not finish. Real models (all-MiniLM-L6-v2): the store keeps what the
model actually produced."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import store as store_mod
from core.models import load_embedder, resolve_model
from core.store import EmbeddingStore
from tests.app_env import app, shown, use_store

pytestmark = pytest.mark.slow  # real models

TEXTS = [f"Note {i}: the invoice {i * 7} was paid on day {i % 28 + 1} by bank transfer." for i in range(51)]


@pytest.fixture(scope="module")
def minilm():
    return load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")


class StopAt(Exception):
    """What Streamlit raises at a progress update when the user clicks elsewhere or reloads."""


# ---- the store keeps every finished batch ---------------------------------------------------------------


def test_a_stop_at_the_last_progress_update_keeps_the_whole_finished_pass(minilm, tmp_path):
    """The walk: a finished pass of 51 chunks was thrown away (the stop came at its last progress update, before
    the segment of 256 was written). Now the next build embeds nothing for it."""

    def progress(done: int, total: int, rate: float) -> None:
        if done == total:
            raise StopAt

    with pytest.raises(StopAt):
        EmbeddingStore(tmp_path).embed(minilm, TEXTS, progress=progress, batch_size=16)
    vecs, embedded = EmbeddingStore(tmp_path).embed(minilm, TEXTS)
    assert embedded == 0
    np.testing.assert_allclose(vecs, minilm.encode_documents(TEXTS), atol=1e-5)


def test_a_stop_mid_pass_keeps_every_finished_batch_and_only_those(minilm, tmp_path):
    seen: list[int] = []

    def progress(done: int, total: int, rate: float) -> None:
        seen.append(done)
        if done >= 32:
            raise StopAt

    with pytest.raises(StopAt):
        EmbeddingStore(tmp_path).embed(minilm, TEXTS, progress=progress, batch_size=16)
    assert seen == [16, 32]
    _, embedded = EmbeddingStore(tmp_path).embed(minilm, TEXTS)
    assert embedded == len(TEXTS) - 32


def test_segments_are_also_written_by_time_so_a_killed_process_loses_seconds(minilm, tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "FLUSH_SECONDS", 0.0)  # every batch is past the time bound
    EmbeddingStore(tmp_path).embed(minilm, TEXTS, batch_size=16)
    metas = [p for p in tmp_path.rglob("*.json") if p.name != "key.json"]
    assert sorted(json.loads(p.read_text())["count"] for p in metas) == [3, 16, 16, 16]


# ---- the last-session record ----------------------------------------------------------------------------


def test_the_record_merges_fields_and_a_damaged_one_is_ignored(tmp_path):
    store = EmbeddingStore(tmp_path)
    assert store.session_record() is None
    store.update_session_record(models={"A": "x"})
    store.update_session_record(build={"state": "running"})
    record = store.session_record()
    assert record is not None and record["models"] == {"A": "x"} and record["build"]["state"] == "running"
    (tmp_path / store_mod.SESSION_RECORD).write_text("{not json", encoding="utf-8")
    assert store.session_record() is None


def test_kept_corpora_are_bounded(tmp_path, monkeypatch):
    store = EmbeddingStore(tmp_path)
    shas = [f"{i:064x}" for i in range(store_mod.KEPT_CORPORA + 2)]
    for sha in shas:
        assert store.keep_corpus(sha, b"{}")
    assert store.kept_corpus(shas[0]) is None and store.kept_corpus(shas[-1]) == b"{}"
    monkeypatch.setattr(store_mod, "MAX_KEPT_CORPUS_BYTES", 10)
    assert not store.keep_corpus("f" * 64, b"x" * 11)  # too large: not kept, a reload starts empty
    assert store.kept_corpus("../../etc/passwd") is None


# ---- a fresh session comes back (AppTest: one AppTest is one browser session) -----------------------------


def _first_session(step: str) -> None:
    """A user's session: upload notes, choose all-MiniLM-L6-v2 for both slots, build (or stop the build)."""
    import streamlit as st

    from ui import build, state
    from ui.corpus import load_upload

    state.init()
    state.put("session_tried", True)  # this session starts the story: it restores nothing
    # each step its own texts: indexes are shared by all sessions of a process (ui.resources), as on a server
    corpus = load_upload([(f"note{i}.txt", f"{t} ({step})".encode()) for i, t in enumerate(TEXTS)])
    for slot in build.SLOTS:
        state.choose_model(slot, "all-MiniLM-L6-v2")
    try:
        if step == "build":
            build.build_all(corpus)
        else:
            build.build_all(corpus, stop=lambda done, total: done >= 32)
    except build.BuildCancelled:
        pass
    st.session_state["_out"] = build.stored_vectors(
        build.resources.store(), build.resources.embedder("all-MiniLM-L6-v2").cache_key
    )


def _script() -> None:
    import streamlit as st

    from tests.test_last_session import _first_session

    _first_session(st.session_state["_step"])


def _session(tmp_path, step: str) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=600)
    at.session_state["_step"] = step
    at.run()
    assert not at.exception, at.exception
    return at


def _reload() -> AppTest:
    at = app()
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_reload_comes_back_with_corpus_models_and_indexes(tmp_path, monkeypatch):
    monkeypatch.setenv("RETRIEVAL_COMPARE_RESTORE", "1")
    with use_store(tmp_path / "store"):
        _session(tmp_path, "build")
        at = _reload()
        text = shown(at)
        assert (
            "Restored your last session (corpus upload, 51 chunks; models A all-MiniLM-L6-v2 / B all-MiniLM-L6-v2)"
            in text
        ), text
        assert "did not finish" not in text
        assert at.session_state["corpus_key"] is not None
        assert at.session_state["built_a"] is not None and at.session_state["built_b"] is not None
        sidebar = " ".join(c.value for c in at.sidebar.caption)
        assert "51 chunks" in sidebar and sidebar.count("check_circle") == 2, sidebar


def test_a_reload_after_a_stopped_build_offers_to_resume_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RETRIEVAL_COMPARE_RESTORE", "1")
    with use_store(tmp_path / "store"):
        first = _session(tmp_path, "stop")
        assert first.session_state["_out"] == 32  # the finished batches are in the store
        at = _reload()
        text = shown(at)
        assert "Restored your last session (corpus upload" in text, text
        assert (
            "did not finish: it stopped after 32 of 102 chunks, while A · all-MiniLM-L6-v2 was running"
            in text
        ), text
        assert at.session_state["built_a"] is None
        at.button(key="_home_resume_build").click().run()
        assert not at.exception, at.exception
        assert at.session_state["built_a"] is not None and at.session_state["built_b"] is not None
        assert "did not finish" not in shown(at)
        rows = at.session_state["_home_resume_build_report"][1]
        assert rows[0]["what ran"] == "embedded 19 chunks (32 were stored)", rows


def test_restoring_is_off_with_the_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("RETRIEVAL_COMPARE_RESTORE", "0")
    with use_store(tmp_path / "store"):
        _session(tmp_path, "build")
        at = _reload()
        assert at.session_state["corpus_key"] is None and "Restored your last session" not in shown(at)
