"""The Map page through AppTest on the sample corpus with both bundled models: what a reader notices."""

from __future__ import annotations

import json
import re

import pytest

from core.report import charts as charts_mod
from tests.app_env import app
from tests.test_pages import _store, built_state, seeded, texts, unescape  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow  # real models on the sample corpus

CONTENT_WIDTH_AT_1280 = 820  # the main column in a 1280 px window (wide layout, sidebar open)


@pytest.fixture(scope="module")
def mapped(built_state):  # noqa: F811
    at = seeded("pages/10_Map.py", built_state)
    assert not at.exception, at.exception
    return at


def column_config(frame) -> dict:
    return {k: v for k, v in json.loads(frame.proto.columns or "{}").items() if k != "_index"}


def test_the_map_says_how_it_was_made_and_draws_chunks_and_queries(mapped):
    page = texts(mapped)
    assert "Each dot is a chunk" in page and "seed 0" in page, page
    assert re.search(r"placed in 2-D by (umap|pca) .+ from model A's vectors", page), page
    assert "clusters of both models' vectors" in page, page  # which space defines the regions
    assert "58 from the sample corpus's judgments" in page, page  # the sample's qrels: outcomes by nDCG@10
    assert "All 460 chunks are drawn" in page, page
    charts = mapped.get("vega_lite_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    values = [v for layer in spec["layer"] for v in layer.get("data", {}).get("values", [])]
    dots = [v for v in values if "region" in v and "chunk" in v]
    assert len({v["chunk"] for v in dots}) == 460, "one dot per chunk, coloured by region"
    outcomes = {v["outcome"] for v in values if "outcome" in v}
    assert outcomes and outcomes <= {"A better", "B better", "tie"}, outcomes
    text = json.dumps(spec)
    assert charts_mod.BLUE in text and charts_mod.AMBER in text and charts_mod.TIE_GREY in text, (
        "queries in the models' own colours, ties grey"
    )


def test_region_table_has_one_row_per_region_and_fits_1280px(mapped):
    table = mapped.dataframe[0]
    regions = mapped.selectbox(key="map_region").options
    assert len(table.value) == len(regions) >= 2, (len(table.value), regions)
    assert list(table.value["region"]) == list(regions)
    config = column_config(table)
    widths = [c.get("width") for c in config.values()]
    assert all(isinstance(w, int) for w in widths), widths
    assert sum(widths) <= CONTENT_WIDTH_AT_1280, f"{sum(widths)} px: the region table would scroll sideways"
    labels = {c["label"] for c in config.values()}
    assert {"A wins", "B wins", "ties", "A − B", "95% CI", "judged"} <= labels, labels
    frame = table.value
    assert frame["chunks"].sum() == 460  # every chunk is in one region
    assert (frame["A wins"] + frame["B wins"] + frame["ties"] == frame["queries"]).all()
    assert frame["judged"].sum() == frame["queries"].sum() == 58  # every sample query is judged


def test_switching_space_keeps_the_selected_region(built_state):  # noqa: F811
    at = seeded("pages/10_Map.py", built_state)
    last = at.selectbox(key="map_region").options[-1]
    at.selectbox(key="map_region").set_value(len(at.selectbox(key="map_region").options) - 1).run()
    at.session_state["map_chunk"] = at.session_state["map_chunk"] or None
    at.button_group(key="map_space").set_value("B").run()
    assert not at.exception, at.exception
    assert "from model B's vectors" in texts(at)
    assert at.selectbox(key="map_region").value == len(at.selectbox(key="map_region").options) - 1
    assert f"Queries in region {last}" in texts(at)


def test_a_regions_query_opens_compare_with_that_query(built_state):  # noqa: F811
    at = seeded("pages/10_Map.py", built_state)
    box = at.selectbox(key="map_region")
    assert [b for b in at.button if (b.key or "").startswith("_map_open_")], "the first region lists queries"
    first = next(m.value for m in at.markdown if m.value.startswith("**Queries in region"))
    after = [m.value for m in at.markdown]
    query = unescape(after[after.index(first) + 1])  # the first query under the heading
    assert box.value is not None
    at.button(key="_map_open_0").click().run()
    assert not at.exception, at.exception
    assert at.session_state["cmp_query"] == query
    assert at.text_input(key="cmp_query").value == query  # Compare is open, its query box filled


def test_the_moved_most_expander_lists_chunks_lowest_overlap_first(mapped):
    moved = mapped.dataframe[-1].value
    assert len(moved) == 50 and list(moved["overlap"]) == sorted(moved["overlap"])
    assert "Jaccard" in texts(mapped)


def test_empty_states_say_what_to_do(built_state):  # noqa: F811
    at = app("pages/10_Map.py")
    at.run()
    assert not at.exception, at.exception
    assert "No corpus loaded yet" in texts(at)
    at = seeded("pages/10_Map.py", {**built_state, "built_a": None, "built_b": None})
    assert "Build both indexes first" in texts(at)
