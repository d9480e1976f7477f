"""Dimensions page (issue 13): the Compare query it shows, the pseudo-query count, one embedding per query.

Real bundled models on the sample corpus (the home page's quick start).
"""

from __future__ import annotations

import pytest

from tests.test_pages import _store, built_state, seeded, texts  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow

DIMS = "pages/4_Dimensions.py"
JUDGE = "pages/7_Judge.py"
QUERY = "如何实现基于 JWT 的用户鉴权？"


def _result_tables(at) -> list:
    return [df.value for df in at.dataframe if "where" in df.value.columns]


def test_dimensions_shows_the_latest_compare_query_and_says_which(built_state):  # noqa: F811
    # the Compare box is empty again (another page's run), but the query was asked: it is in the history
    at = seeded(DIMS, built_state, cmp_query="", cmp_history=[QUERY, "older query"])
    shown = texts(at)
    assert "Ask a query on the Compare page" not in shown
    assert f"Query (the latest query asked on the Compare page): {QUERY}" in shown.replace("**", "")
    assert len(_result_tables(at)) == 2
    at = seeded(DIMS, built_state, cmp_query="token refresh", cmp_history=[QUERY])
    assert "Query (the query on the Compare page): token refresh" in texts(at).replace("**", "")


def test_pseudo_query_count_is_only_editable_for_pseudo_queries(built_state):  # noqa: F811
    at = seeded(DIMS, built_state, mrl_queryset="sample", mrl_pseudo=2000)
    count = at.number_input(key="mrl_pseudo")
    assert count.disabled, "the count does nothing for sample queries: it must not look editable"
    assert not any("used: every chunk" in c.value for c in at.caption)
    at.radio(key="mrl_queryset").set_value("pseudo").run()
    assert not at.exception, at.exception
    assert not at.number_input(key="mrl_pseudo").disabled
    from ui import resources

    n = len(resources.corpora().get(built_state["corpus_key"]).chunks)
    # 2000 asked, the corpus has fewer chunks: the page says how many it really uses
    assert any(c.value == f"{n} used: every chunk of the corpus" for c in at.caption), [
        c.value for c in at.caption
    ]
    assert f"{n} queries (chunks as pseudo-queries)" in texts(at)


def test_judge_pooling_reuses_the_query_vectors_dimensions_embedded(built_state):  # noqa: F811
    from ui import resources

    seeded(DIMS, built_state, mrl_queryset="sample")  # both models' curves: every sample query
    embedders = [resources.loaded_embedder(built_state[f"models_{s}"]) for s in ("a", "b")]
    before = [e.calls for e in embedders]
    at = seeded(JUDGE, built_state, judge_rater="Reuse test", judge_queryset="sample", judge_k=7)
    assert any("Query 1 of" in c.value for c in at.caption), texts(at)
    assert [e.calls for e in embedders] == before, "the Judge pool embedded the sample queries again"
