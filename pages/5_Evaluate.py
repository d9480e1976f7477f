"""Evaluate: nDCG / MRR / Recall for both models on judged queries, with a paired significance test."""

import json
import tempfile
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core.beir import format_beir_qrels, format_trec_run
from core.evaluation import by_group, load_eval_set
from ui import build, resources, state, widgets
from ui import evaluate as ev
from ui.text import escape_md

widgets.page_header(
    "Evaluate",
    "How much better, and is it real? Metrics on judged queries (MTEB/trec_eval conventions) with a paired test.",
)

SOURCES = ["sample judgments", "labels from the Compare page", "upload a BEIR set"]
st.radio("Judgments", SOURCES, key="eval_source", horizontal=True)
source = state.get("eval_source")

if source == SOURCES[2]:
    upload = st.file_uploader(
        "BEIR zip (corpus.jsonl, queries.jsonl, qrels/test.tsv)", type=["zip"], key="_eval_beir_upload"
    )
    if upload is not None and st.session_state.get("_eval_beir_loaded") != upload.file_id:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "beir.zip"
                path.write_bytes(upload.getvalue())
                dataset = load_eval_set(path)
            corpus = ev.register_beir(dataset)
            st.session_state["_eval_beir_loaded"] = upload.file_id
            st.success(
                f"Loaded {len(corpus.chunks):,} documents, {len(dataset.queries):,} queries. "
                "It is now the current corpus: build both indexes on the Models page, then come back."
            )
            for w in dataset.warnings:
                st.warning(escape_md(w))
        except Exception as exc:
            widgets.show_error(exc)

if not widgets.need_indexes():
    st.stop()
corpus = resources.current_corpus()

if source == SOURCES[0]:
    if state.get("corpus_origin") != "sample":
        st.info(
            "Sample judgments apply to the sample corpus only. Load it on the Corpus page, or pick another source."
        )
        st.stop()
    queries, qrels = ev.sample_judgments()
elif source == SOURCES[1]:
    queries, qrels = ev.label_judgments(corpus)
    if not qrels:
        st.info("No labels yet: mark results relevant / not relevant on the Compare page.")
        st.page_link(widgets.PAGES["compare"], label="Go to Compare", icon=":material/compare_arrows:")
        st.stop()
else:
    queries, qrels = ev.beir_judgments(corpus)
    if not qrels:
        st.info("Upload a BEIR zip above; its corpus becomes the current corpus.")
        st.stop()

c1, c2, c3 = st.columns([2, 2, 3])
c1.radio(
    "Search", ["exact", "hnsw"], key="eval_mode", horizontal=True, help="exact = brute-force cosine (MTEB)"
)
dims_choice = c2.selectbox(
    "Dimensions",
    ["full", 32, 64, 128, 256, 512, 768, 1024],
    key="_eval_dims",
    help="Truncate both models to d dims",
)
c3.caption(f"{len(queries)} judged queries · {sum(len(v) for v in qrels.values())} judgments · k = 100")
dims = None if dims_choice == "full" else int(dims_choice)

try:
    with st.spinner(f"Searching {len(queries)} queries with both models …"):
        comparison, run_a, run_b, pairs = ev.run_both(
            corpus, queries, qrels, exact=state.get("eval_mode") == "exact", dims=dims
        )
except Exception as exc:
    widgets.show_error(exc)
    st.stop()

table = pd.DataFrame(comparison.table())
name_a, name_b = comparison.name_a, comparison.name_b
main = comparison.paired.get("ndcg@10") or next(iter(comparison.paired.values()))
winner = name_a if main.diff > 0 else name_b
if main.diff == 0:
    verdict = f"Both models score the same on {main.metric} ({main.mean_a:.3f}) over {main.queries} queries."
else:
    verdict = (
        f"**{escape_md(winner)}** is better on {main.metric} by {abs(main.diff):.3f} "
        f"(95% CI {main.ci_low:+.3f} … {main.ci_high:+.3f}, p = {main.p_value:.3f}): "
        + ("a significant difference." if main.significant else "**not** significant on this many queries.")
    )
(st.success if main.significant else st.info)(verdict)

bars = pd.DataFrame(
    [
        {"metric": metric, "model": name, "value": value}
        for metric, p in comparison.paired.items()
        for name, value in ((name_a, p.mean_a), (name_b, p.mean_b))
    ]
)
st.altair_chart(
    alt.Chart(bars)
    .mark_bar()
    .encode(
        x=alt.X("metric:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset="model:N",
        y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
        color=alt.Color("model:N", legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["metric", "model", alt.Tooltip("value:Q", format=".4f")],
    )
    .properties(height=220),
    width="stretch",
)

st.subheader("Metrics side by side")
st.dataframe(
    table.style.format({c: "{:.4f}" for c in (name_a, name_b, "diff", "p_value", "ci_low", "ci_high")}),
    hide_index=True,
    width="stretch",
)
st.caption(
    "Paired randomisation test (10,000 sign flips, seeded) and bootstrap 95% CI of the mean difference A − B; "
    "wins / ties / losses count queries where A scores higher / equal / lower."
)

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Per query")
    st.selectbox("Metric", list(comparison.paired), key="eval_metric")
    metric = state.get("eval_metric")
    rows = comparison.per_query(metric)
    for r in rows:
        r["query"] = queries.get(r["qid"], "")
        r["languages"] = pairs.get(r["qid"], "")
    per_query = pd.DataFrame(rows)[["qid", "query", "languages", name_a, name_b, "diff"]]
    st.dataframe(per_query, hide_index=True, width="stretch", height=360)
    chart = (
        alt.Chart(per_query)
        .mark_bar()
        .encode(
            x=alt.X(
                "qid:N",
                sort=alt.EncodingSortField("diff", order="descending"),
                title=None,
                axis=alt.Axis(labels=False, ticks=False),
            ),
            y=alt.Y("diff:Q", title=f"{metric}: A − B"),
            color=alt.condition("datum.diff > 0", alt.value("#4f46e5"), alt.value("#f59e0b")),
            tooltip=["qid", "query", alt.Tooltip("diff:Q", format="+.3f")],
        )
        .properties(height=200)
    )
    st.altair_chart(chart, width="stretch")
with right:
    st.subheader("By language pair")
    ga, gb = by_group(comparison.a, pairs), by_group(comparison.b, pairs)
    lang_rows = [
        {
            "query → docs": g,
            "queries": ga[g]["queries"],
            f"A {metric}": ga[g].get(metric),
            f"B {metric}": gb[g].get(metric),
        }
        for g in ga
    ]
    st.dataframe(pd.DataFrame(lang_rows), hide_index=True, width="stretch")
    st.caption(
        "Query language → language of its relevant documents; cross-lingual rows show who bridges languages."
    )

st.subheader("Downloads")
d = st.columns(5)
summary = {
    "models": {
        name: {**ev_.mean, "queries": ev_.queries}
        for name, ev_ in ((name_a, comparison.a), (name_b, comparison.b))
    },
    "paired": {m: p.to_dict() for m, p in comparison.paired.items()},
}
d[0].download_button(
    "metrics.json", json.dumps(summary, indent=2, ensure_ascii=False), "metrics.json", width="stretch"
)
d[1].download_button("per_query.csv", per_query.to_csv(index=False), "per_query.csv", width="stretch")
d[2].download_button("run_A.trec", format_trec_run(run_a, tag="A"), "run_A.trec", width="stretch")
d[3].download_button("run_B.trec", format_trec_run(run_b, tag="B"), "run_B.trec", width="stretch")
d[4].download_button("qrels.tsv", format_beir_qrels(qrels), "qrels.tsv", width="stretch")
_ = build  # indexes come from the Models page
