"""Choosing a model on the Models page: the sidebar and the banner, drawn above the picker, name the new model at once
(they named the model chosen before until the next click; seen by bench_scale_browser in Chromium)."""

from __future__ import annotations

import pytest

from tests.app_env import app, shown, use_store

pytestmark = pytest.mark.slow  # AppTest runs the real pages

WORDLLAMA = "wordllama-l2-supercat"


@pytest.fixture(scope="module", autouse=True)
def _store(shared_store_dir):
    with use_store(shared_store_dir):
        yield


def test_the_sidebar_names_the_model_just_chosen():
    at = app()
    at.run()
    at.button(key="home_quick").click().run()  # the sample with the bundled pair: nothing embedded
    assert not at.exception, at.exception
    keys = ("corpus_key", "corpus_origin", "models_a", "models_b", "models_fallback_reason")
    seeded = {k: at.session_state[k] for k in keys}
    at = app("pages/2_Models.py")
    for key, value in seeded.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    sidebar = "\n".join(str(c.value) for c in at.sidebar.caption).replace("\\", "")
    assert f"A: {WORDLLAMA}" not in sidebar
    assert "Running multilingual-e5-small" in shown(at)  # the banner names the bundled pair standing in
    at.selectbox(key="_models_choice_a").set_value(WORDLLAMA).run()
    assert not at.exception, at.exception
    sidebar = "\n".join(str(c.value) for c in at.sidebar.caption).replace("\\", "")
    assert f"A: {WORDLLAMA}" in sidebar, sidebar
    assert "Running multilingual-e5-small" not in shown(at)  # the fallback banner's pair is no longer the one
