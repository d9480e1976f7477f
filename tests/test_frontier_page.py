"""The Frontier page through AppTest on the sample corpus with both bundled models: what a reader notices."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from core.frontier import FORMULAS, ScaleInputs
from core.report.sections import embed_sentences
from tests.test_pages import _store, app, built_state, seeded, texts  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow  # real models on the sample corpus

# Glide's default width of a column without one (px); the main column is ~820 px wide in a 1280 px window
# (wide layout, sidebar open).
CONTENT_WIDTH_AT_1280 = 820
EXPANDER_WIDTH_AT_1280 = 780  # inside an expander's padding


@pytest.fixture(scope="module")
def swept(built_state):  # noqa: F811
    """The Frontier page after 'Run the sweep' on the sample queries (judged: nDCG@10 is measured)."""
    at = seeded("pages/6_Frontier.py", built_state)
    assert at.button(key="fr_run").label == "Run the sweep"
    at.toggle(key="fr_hnsw").set_value(False).run()  # the flat configurations are enough here (fast)
    at.button(key="fr_run").click().run()
    assert not at.exception, at.exception
    return at


def column_config(frame) -> dict:
    """The dataframe's column_config by column name (without the hidden index)."""
    return {k: v for k, v in json.loads(frame.proto.columns or "{}").items() if k != "_index"}


def test_cost_table_columns_fit_1280px_with_formats_and_help(swept):
    cost = swept.dataframe[-1]
    config = column_config(cost)
    assert list(cost.value.columns) == list(config), "every column of the cost table is configured"
    widths = [c.get("width") for c in config.values()]
    assert all(isinstance(w, int) for w in widths), widths
    assert sum(widths) <= CONTENT_WIDTH_AT_1280, f"{sum(widths)} px: the table would scroll sideways"
    assert {"RAM GB", "disk GB", "CPU cores", "$/month"} <= {c["label"] for c in config.values()}
    numeric = [c for c in config.values() if c.get("type_config", {}).get("type") == "number"]
    assert numeric and all(c["type_config"].get("format") for c in numeric), numeric
    assert all(c.get("help") for c in numeric), "every figure says what it counts"


def test_every_configuration_table_fits_its_expander_at_1280px(swept):
    table = swept.dataframe[0]
    config = column_config(table)
    assert set(config) <= set(table.value.columns)
    assert {"configuration", "recall@10", "nDCG@10", "p95 ms"} <= set(config)
    widths = [c.get("width") for c in config.values()]
    assert all(isinstance(w, int) for w in widths) and sum(widths) <= EXPANDER_WIDTH_AT_1280, widths


def test_run_and_stop_buttons_leave_once_the_sweep_is_done(swept):
    labels = [b.label for b in swept.button]
    assert "Run the sweep" not in labels and "Stop the sweep" not in labels, labels


def test_embedding_cost_is_stated_once_per_model_with_where_its_throughput_comes_from(swept):
    """Measured on this CPU: CPU-hours, never GPU-hours; declared for an RTX 3060: GPU-hours and the source."""
    page = texts(swept)
    lines = re.findall(r".*takes .+ = [0-9.,]+ CPU-hours = \$[0-9.,]+.*", page)
    assert len(lines) == 2 and all("(measured on this CPU" in line for line in lines), page
    assert not re.search(r"takes .+ GPU-hours = \$", page), page
    assert "10,000,000 chunks" in page
    swept.radio(key="fr_tp_b").set_value("declared").run()
    assert not swept.exception, swept.exception
    page = texts(swept)
    assert "No declared throughput is known for all-MiniLM-L6-v2" in page  # no published figure: says so
    swept.number_input(key="fr_tp_rate_b").set_value(2000.0).run()
    swept.text_input(key="fr_tp_hw_b").set_value("1 x L4").run()
    page = texts(swept)
    assert re.search(r"all-MiniLM-L6-v2: embedding 10,000,000 chunks at 2,000.0 docs/s \(declared: 1 x L4 "
                     r"\(your figure\)\) takes 83 min = 1.4 GPU-hours = \$2.78", page), page  # fmt: skip
    swept.radio(key="fr_tp_b").set_value("measured").run()


def test_the_cost_table_has_graph_replicas_qdrant_rule_tier_and_the_recall_caveat(swept):
    cost = swept.dataframe[-1].value
    assert {"graph B", "Qdrant rule GB"} <= set(cost.columns)
    tiers = cost[cost["configuration"].str.contains("Qdrant tier")]
    assert len(tiers) == 2, cost["configuration"].tolist()  # one per model
    page = texts(swept)
    assert re.search(r"Quality measured on [0-9,]+ chunks, shown unchanged at 10,000,000 chunks", page), page
    assert swept.number_input(key="fr_replicas").value == 1


def test_the_page_and_the_report_print_the_same_throughput_and_price(swept):
    """The report reads the one throughput the page read: ui.report takes it through the same
    ui.frontier.throughput_or_measured from the store each index was built in (core.models.current_throughput)."""
    from ui import frontier, resources

    page = texts(swept)
    facts = []
    for key in ("built_a", "built_b"):
        mi = resources.indexes().get(swept.session_state[key])
        facts.append(SimpleNamespace(throughput=frontier.measured_throughput(mi)))
    data = SimpleNamespace(models=facts, scale=ScaleInputs())
    age = re.compile(r", (just now|[^,()]*? ago)")  # the age ticks between the two reads: "just now", "1 min ago"
    for sentence in embed_sentences(data):
        assert age.sub("", sentence) in age.sub("", page), (sentence, page)


def test_formulas_read_as_plain_text_under_the_cost_table(swept):
    page = texts(swept)
    for formula in FORMULAS:
        assert f"- {formula}" in page, formula
    defaults = [line for line in page.splitlines() if line.startswith("Defaults:")]
    assert defaults and "{" not in defaults[0], defaults  # words, not a JSON dump
    assert "$4.00 per GB-month of RAM" in defaults[0]


def test_equal_budget_follows_the_quality_axis_and_says_which(swept):
    page = texts(swept)
    assert "**Equal budget** (best recall@10 within" in page
    assert "of its full-dimension top-k" in page
    swept.radio(key="fr_metric").set_value("ndcg@10").run()
    assert not swept.exception, swept.exception
    page = texts(swept)
    assert "**Equal budget** (best nDCG@10 within" in page
    readout = [line for line in page.splitlines() if "scores nDCG@10" in line]
    assert len(readout) == 2, page  # both ways, each naming both models' nDCG@10
    assert all(
        line.count("scores nDCG@10") == 2 and "(its full-dimension float32:" in line for line in readout
    )
    assert "of its full-dimension top-k" not in page
    cost = swept.dataframe[-1]
    assert column_config(cost)["quality"]["label"] == "nDCG@10"
    swept.radio(key="fr_metric").set_value("recall").run()
