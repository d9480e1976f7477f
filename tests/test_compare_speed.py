"""Compare keeps what the speed work (issue 13 #12) changed working: the latency table, the label files made on
click, and a heap frozen once so Streamlit's collection after each rerun stays short. Speed itself is measured
by benchmarks/bench_compare_browser.py, not here."""

from __future__ import annotations

import gc

import pytest

from tests.test_pages import JWT_QUERY, _store, built_state, seeded  # noqa: F401  (_store, built_state: fixtures)

pytestmark = pytest.mark.slow  # AppTest runs with the bundled models


def test_latency_shows_as_a_table_per_model_after_two_queries(built_state):  # noqa: F811
    at = seeded("pages/3_Compare.py", built_state, cmp_query=JWT_QUERY, cmp_k=5)
    at.text_input(key="cmp_query").set_value("how do I rotate an API key").run()
    assert not at.exception, at.exception
    table = at.table[0].value
    assert list(table.columns) == ["A", "B"], table
    assert {"queries", "embed p50 ms", "search p95 ms"} <= set(table.index), table
    assert list(table.loc["queries"]) == ["2", "2"]  # counts and ms as rounded, not padded to 2.0000
    assert not at.dataframe, "no interactive grid for six numbers"


def test_label_files_are_offered_only_once_something_is_labelled(built_state):  # noqa: F811
    at = seeded("pages/3_Compare.py", built_state, cmp_query=JWT_QUERY, cmp_k=3)
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(buttons) >= {"qrels.tsv", "queries.jsonl"}
    assert all(buttons[name].proto.disabled for name in ("qrels.tsv", "queries.jsonl"))


def test_the_first_search_freezes_the_loaded_heap(built_state):  # noqa: F811
    """Streamlit walks every tracked object after each run; the models and vectors are frozen out of that walk."""
    at = seeded("pages/3_Compare.py", built_state, cmp_query="JWT signing key rotation", cmp_k=3)
    assert not at.exception, at.exception
    # torch, both models and the corpus: far more objects than a page makes itself
    assert gc.get_freeze_count() > 10_000
