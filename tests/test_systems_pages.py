"""BM25 and hybrid beside the two models, through the pages: Models builds them, Compare shows any system in a
column, Evaluate and the report rank every system with the top group named; and the same from the CLI."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from tests.app_env import use_store
from tests.test_judge_pages import built_state, main_text  # noqa: F401 (the module-scoped fixture)
from tests.test_pages import SEEDED, seeded

pytestmark = pytest.mark.slow  # real models on the sample corpus

MODELS = "pages/2_Models.py"
COMPARE = "pages/3_Compare.py"
EVALUATE = "pages/5_Evaluate.py"


@pytest.fixture(scope="module", autouse=True)
def _store(shared_store_dir):
    with use_store(shared_store_dir):
        yield


@pytest.fixture(scope="module")
def with_systems(built_state) -> dict:  # noqa: F811
    """The Models page's 'Build systems' clicked with BM25 and multilingual-e5-small fused with BM25."""
    at = seeded(MODELS, built_state)
    picker = at.multiselect(key="systems_pick")
    e5 = next(o for o in picker.options if o.startswith("hybrid:") and "e5" in o)
    picker.set_value(["bm25", e5]).run()
    next(b for b in at.button if b.label == "Build systems").click().run()
    assert not at.exception, at.exception
    table = next(t.value for t in at.dataframe if "system" in t.value.columns)
    assert set(table["system"]) == {"bm25", e5}
    assert (table["index MB"] > 0).all() and (table["build s"] >= 0).all()
    return {**{k: at.session_state[k] for k in SEEDED}, "systems_chosen": at.session_state["systems_chosen"]}


def test_compare_shows_bm25_in_a_column_with_its_scores_and_no_z_score(with_systems):
    at = seeded(COMPARE, with_systems, cmp_system_b="bm25", cmp_query="HS256 signature")
    assert not at.exception, at.exception
    assert at.selectbox(key="cmp_system_b").value == "bm25"
    shown = main_text(at)
    assert "B · bm25" in shown  # the column names the system it shows
    assert "z **–**" in shown  # BM25 scores have no z-score against every chunk: said, not invented
    assert "api/auth_jwt.md" in shown or "jwt" in shown.lower()  # the identifier query finds the JWT docs


def test_evaluate_ranks_every_system_and_names_the_top_group(with_systems):
    at = seeded(EVALUATE, with_systems, eval_source="sample judgments")
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    board = next(t.value for t in at.dataframe if "top group" in t.value.columns)
    assert len(board) == 4 and "bm25" in set(board["system"])
    assert board["nDCG@10"].is_monotonic_decreasing  # best first
    assert board["top group"].iloc[0]  # the best is always in its own top group
    assert (board["p50 ms"] > 0).all()  # every system has a latency
    said = main_text(at)
    assert "top group" in said and "Holm" in said


def test_the_report_carries_the_leaderboard(with_systems):
    from streamlit.testing.v1 import AppTest

    def build_report_md() -> None:  # the Report page's builder, run where it has a session
        import streamlit as st

        from ui import report, state

        state.init()
        inp = report.inputs()
        assert inp is not None and inp.systems, "the report sees the built systems"
        st.session_state["_md"] = report.build_files(inp).markdown

    probe = AppTest.from_function(build_report_md, default_timeout=900)
    for k, v in with_systems.items():
        probe.session_state[k] = v
    probe.run()
    assert not probe.exception, probe.exception
    md = probe.session_state["_md"]
    assert "top group" in md.lower() and "bm25" in md and "Holm" in md


def test_cli_evaluate_ranks_models_bm25_and_hybrid(capsys, tmp_path):
    out = tmp_path / "lb.json"
    code = main(
        ["evaluate", "--beir", "sample_corpus", "--model", "all-MiniLM-L6-v2", "--system", "bm25",
         "--system", "hybrid:all-MiniLM-L6-v2+bm25", "--resamples", "1000", "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "top group:" in printed and "verdict:" in printed
    result = json.loads(out.read_text())
    board = result["leaderboard"]
    assert {r["system"] for r in board["rows"]} == {
        "all-MiniLM-L6-v2",
        "bm25",
        "hybrid:all-MiniLM-L6-v2+bm25",
    }
    assert board["top_group"][0] == board["best"] and "Holm" in board["correction"]
    assert all(r["latency_p50_ms"] > 0 for r in board["rows"])
