"""Dimensions: how much retrieval a model keeps when its embeddings are cut to d dims (Matryoshka)."""

import altair as alt
import pandas as pd
import streamlit as st

from core.mrl import equal_cost_dims
from ui import build, compare, dims, resources, state, widgets
from ui.corpus import sample_queries
from ui.text import escape_md

widgets.page_header(
    "Dimensions",
    "Recall@k against full-dimension exact search as embeddings are truncated — slicing stored vectors, never re-embedding.",
)
if not widgets.need_indexes():
    st.stop()

corpus = resources.current_corpus()
indexes = {slot: build.built_index(slot) for slot in build.SLOTS}
names = {slot: f"{slot} · {mi.spec.name}" for slot, mi in indexes.items()}
# Default to the model trained for truncation (Qwen3), if either is.
if st.session_state.get("_mrl_slot_default") is None:
    trained = [s for s, mi in indexes.items() if mi.spec.mrl_dims]
    state.put("mrl_slot", trained[0] if trained else "A")
    st.session_state["_mrl_slot_default"] = True

c1, c2, c3, c4 = st.columns([2, 3, 1, 1])
c1.radio("Model", build.SLOTS, key="mrl_slot", format_func=lambda s: names[s], horizontal=False)
sets = ["sample queries", "this session's history", "chunks as pseudo-queries"]
c2.radio("Query set", sets, key="mrl_queryset")
c3.number_input("k", min_value=1, max_value=100, key="mrl_k")
c4.number_input("Pseudo-queries", min_value=10, max_value=2000, step=10, key="mrl_pseudo")

slot = state.get("mrl_slot")
mi = indexes[slot]
other = indexes["B" if slot == "A" else "A"]
stops = dims.dims_for(mi)
if not mi.spec.mrl_dims:
    st.warning(
        f"{escape_md(mi.spec.name)} was not trained for Matryoshka truncation: it can be cut, but expect recall to "
        "fall quickly. Qwen3-Embedding models are trained for 32 … full dims.",
        icon=":material/content_cut:",
    )
if state.get("mrl_dims") not in stops:
    state.put("mrl_dims", stops[len(stops) // 2])
st.select_slider("Dimensions", options=stops, key="mrl_dims")
d, k = int(state.get("mrl_dims")), int(state.get("mrl_k"))

kind = state.get("mrl_queryset")
texts: list[str] = []
if kind == sets[0]:
    texts = [q["text"] for q in sample_queries()] if state.get("corpus_origin") == "sample" else []
elif kind == sets[1]:
    texts = list(state.get("cmp_history"))
if kind != sets[2] and not texts:
    st.info(
        "This query set is empty (sample queries exist for the sample corpus; history fills on the Compare page). "
        "Using chunks as pseudo-queries instead."
    )
    kind = sets[2]

try:
    qvecs, exclude = dims.query_set(mi, slot, kind, texts, int(state.get("mrl_pseudo")))
    at_d = dims.point(mi, qvecs, exclude, d=d, k=k)
    curve = dims.truncation_curve(mi, qvecs, exclude, k=k)
except Exception as exc:
    widgets.show_error(exc)
    st.stop()

full = mi.dim
m = st.columns(4)
m[0].metric(
    f"Recall@{k} · truncation",
    f"{at_d['truncation recall']:.3f}",
    help="exact search at d vs exact at full dims",
)
m[1].metric(
    f"Recall@{k} · HNSW at d", f"{at_d['end-to-end recall']:.3f}", help="HNSW at d vs exact at full dims"
)
m[2].metric("Vector memory", f"{at_d['vector MB']:.2f} MB", f"{d / full:.0%} of full", delta_color="off")
m[3].metric("HNSW search", f"{at_d['hnsw ms/query']:.2f} ms", help="per query, at d dims")
st.caption(
    f"{len(qvecs)} queries ({escape_md(kind)}) · {len(corpus.chunks):,} chunks · full dimension {full:,} · "
    f"HNSW index at d: {at_d['index MB']:.2f} MB"
)

st.subheader("Recall over all dimensions")
rows = [
    {"model": names[slot], "dims": r["dims"], "recall": r["recall"], "curve": "truncation (exact at d)"}
    for r in curve
]
show_e2e = st.toggle("Add end to end (HNSW at every d; builds the missing indexes once)", key="_mrl_e2e")
if show_e2e:
    with st.spinner("Building per-dimension indexes …"):
        e2e = dims.end_to_end_curve(mi, qvecs, exclude, k=k)
    rows += [
        {
            "model": names[slot],
            "dims": r["dims"],
            "recall": r["end-to-end recall"],
            "curve": "end to end (HNSW at d)",
        }
        for r in e2e
    ]
try:
    oq, oex = dims.query_set(other, "B" if slot == "A" else "A", kind, texts, int(state.get("mrl_pseudo")))
    other_slot = "B" if slot == "A" else "A"
    rows += [
        {
            "model": names[other_slot],
            "dims": r["dims"],
            "recall": r["recall"],
            "curve": "truncation (exact at d)",
        }
        for r in dims.truncation_curve(other, oq, oex, k=k)
    ]
except Exception as exc:
    widgets.show_error(exc)
df = pd.DataFrame(rows)
base = alt.Chart(df).encode(
    x=alt.X("dims:Q", scale=alt.Scale(type="log", base=2), title="dimensions (log scale)"),
    y=alt.Y("recall:Q", scale=alt.Scale(domain=[0, 1]), title=f"recall@{k} vs full-dim exact"),
    color=alt.Color("model:N", legend=alt.Legend(orient="bottom", title=None)),
    strokeDash=alt.StrokeDash("curve:N", legend=alt.Legend(orient="bottom", title=None)),
    tooltip=["model", "curve", "dims", alt.Tooltip("recall:Q", format=".3f")],
)
layers = [base.mark_line(point=True)]
layers.append(
    alt.Chart(pd.DataFrame({"dims": [d]})).mark_rule(color="#4f46e5", strokeWidth=2).encode(x="dims:Q")
)
eq = equal_cost_dims(other.dim, stops)
if eq and eq < full:
    note = pd.DataFrame({"dims": [eq], "label": [f"same bytes as {other.spec.name} ({other.dim} dims)"]})
    layers.append(alt.Chart(note).mark_rule(color="#f59e0b", strokeDash=[4, 4]).encode(x="dims:Q"))
    layers.append(
        alt.Chart(note)
        .mark_text(align="left", dx=4, dy=-110, color="#b45309")
        .encode(x="dims:Q", text="label:N")
    )
st.altair_chart(alt.layer(*layers).properties(height=340), width="stretch")
if eq and eq < full:
    eq_recall = next((r["recall"] for r in curve if r["dims"] == eq), None)
    if eq_recall is not None:
        st.markdown(
            f"At **{eq} dims** {escape_md(mi.spec.name)} stores vectors as large as {escape_md(other.spec.name)}'s "
            f"{other.dim} and keeps **{eq_recall:.1%}** of its own full-dimension top-{k}."
        )

cost = pd.DataFrame(curve)[["dims", "recall", "exact ms/query", "vector MB"]]
if show_e2e:
    e2e_df = pd.DataFrame(e2e)[["dims", "end-to-end recall", "hnsw ms/query", "index MB"]]
    cost = cost.merge(e2e_df, on="dims")
with st.expander("Cost per dimension (table)"):
    st.dataframe(cost.round(4), hide_index=True, width="stretch")

st.subheader("Results at the chosen dimension")
query = (state.get("cmp_query") or "").strip()
if not query:
    st.info(
        "Ask a query on the Compare page to see its results at d dims beside full-dimension results here."
    )
else:
    st.markdown(f"Query: **{escape_md(query)}**")
    try:
        at_dims = mi.search(query, k=k, dims=d, instruction=compare.instruction(slot))
        at_full = mi.search(query, k=k, dims=full, exact=True, instruction=compare.instruction(slot))
    except Exception as exc:
        widgets.show_error(exc)
        st.stop()
    full_ids = [h.chunk_id for h in at_full.hits]
    left, right = st.columns(2)
    for col, title, res in ((left, f"{d} dims (HNSW)", at_dims), (right, f"{full} dims (exact)", at_full)):
        with col:
            st.markdown(f"**{title}**")
            table = []
            for h in res.hits:
                chunk = corpus.chunks[h.chunk_index]
                table.append(
                    {
                        "rank": h.rank,
                        "in full top-k": "✓" if h.chunk_id in full_ids else "✗",
                        "score": round(h.score, 3),
                        "source": chunk.source,
                        "text": " ".join(chunk.text.split())[:140],
                    }
                )
            st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
