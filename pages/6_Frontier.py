"""Frontier: what each configuration (dimensions x precision x index) costs and keeps, and the cost at scale."""

import json
from dataclasses import asdict

import altair as alt
import pandas as pd
import streamlit as st

from core import charts
from core.engine import ModelIndex
from core.frontier import FORMULAS, ScaleInputs, Sweep, equal_budget, to_json
from ui import build, frontier, widgets
from ui.text import escape_md

SUBTITLE = (
    "Recall against each model's own full-dimension float32 results, bytes per vector and latency for every "
    "Matryoshka dimension x precision (float32, float16, int8, binary, binary + rescore) x index, from the "
    "stored vectors: nothing is re-embedded."
)
PRECISION_NOTE = (
    "How each configuration is measured. int8: ranges per dimension from the corpus embeddings (as "
    "sentence-transformers' `quantize_embeddings`), scored as a float32 query against the dequantised "
    "documents; the int32 dot product of query and document codes was not used because it loses recall "
    "(MiniLM on the sample corpus at 384 dims: 0.78 against 0.995). float16 and int8 are searched on a float32 "
    "copy here, so their latency is float32's; their memory is counted at 2 and 1 bytes per dimension. "
    "Binary: Hamming distance on packed sign bits. Binary + rescore: the 4 x k nearest by Hamming rescored "
    "against int8 (its bytes count both). HNSW: hnswlib (the build's M and ef); hnswlib stores float32 only, so "
    "float16 HNSW indexes the vectors rounded through float16 and counts 2 bytes per dimension (index bytes: "
    "hnswlib's measured size less 2 bytes per dimension per vector). Recall@k: against the model's own "
    "full-dimension float32 exact top-k; latency: p50/p95 of 20 single queries, 2 warm-up queries untimed."
)


def controls(judged: list[str]) -> tuple[str, int, int, bool]:
    """Query set (judged sets give nDCG@10 too), pseudo-query count, k and whether to include HNSW builds."""
    c1, c2, c3, c4 = st.columns([3, 1, 1, 2])
    kind = c1.radio("Query set", [*judged, frontier.PSEUDO_SET], key="fr_queryset", horizontal=False)
    n_pseudo = int(c2.number_input("Pseudo-queries", min_value=10, max_value=2000, key="fr_pseudo"))
    k = int(c3.number_input("k", min_value=1, max_value=100, key="fr_k"))
    hnsw = c4.toggle("Include HNSW (two builds per dimension: float32, float16)", key="fr_hnsw")
    return str(kind), n_pseudo, k, bool(hnsw)


def run_all(
    indexes: dict[str, ModelIndex], kind: str, n_pseudo: int, k: int, hnsw: bool
) -> list[Sweep] | None:
    """Each model's sweep: from the memo when already run, else after a click (with progress)."""
    inputs = {}
    with st.spinner("Embedding the query set with both models …"):  # memoised: only the first visit waits
        for slot, mi in indexes.items():
            inputs[slot] = frontier.query_vectors(mi, slot, kind, n_pseudo)
    keys = {s: frontier.sweep_key(mi, *inputs[s], k=k, hnsw=hnsw) for s, mi in indexes.items()}
    done = {s: frontier.cached_sweep(key) for s, key in keys.items()}
    if all(v is not None for v in done.values()):
        return [v for v in done.values() if v is not None]
    st.info(
        "The sweep measures every configuration of both models (seconds on the sample corpus; HNSW builds come "
        "last and take longer on big corpora). Stop, or changing any control, cancels a running sweep.",
        icon=":material/speed:",
    )
    if not st.button("Run the sweep", type="primary", key="fr_run"):
        return None
    st.button(
        "Stop the sweep", icon=":material/stop_circle:", key="_fr_stop"
    )  # a click reruns: the sweep stops
    out = []
    for slot, mi in indexes.items():
        bar = st.progress(0.0, text=f"{mi.spec.name}: starting")

        def progress(done_n: int, total: int, rate: float, bar=bar, name=mi.spec.name) -> None:
            bar.progress(
                done_n / max(total, 1), text=f"{name}: {done_n}/{total} configurations ({rate:.1f}/s)"
            )

        out.append(frontier.run_sweep(mi, *inputs[slot], k=k, hnsw=hnsw, progress=progress))
        bar.empty()
    return out


def frontier_chart(rows: list[dict], *, metric: str, k: int) -> None:
    """Quality against index bytes per vector (log), colour per model, shape per precision, Pareto points joined
    (the report draws the same chart: core.charts)."""
    y_title = f"recall@{k} vs own full-dim float32" if metric == "recall" else "nDCG@10"
    tooltip = [
        "model:N", "configuration:N", alt.Tooltip("bytes per vector:Q", format=","),
        alt.Tooltip("index bytes per vector:Q", format=",.1f"), alt.Tooltip("recall:Q", format=".4f"),
        alt.Tooltip("nDCG@10:Q", format=".4f"), alt.Tooltip("p50 ms:Q", format=".3f"),
        alt.Tooltip("p95 ms:Q", format=".3f"), alt.Tooltip("build s:Q", format=".2f"), "pareto:N",
    ]  # fmt: skip
    chart = charts.frontier(
        rows,
        y="recall" if metric == "recall" else "nDCG@10",
        y_title=y_title,
        width="container",
        height=380,
        tooltip=tooltip,
    )
    st.altair_chart(chart, width="stretch")


def latency_chart(rows: list[dict], *, k: int) -> None:
    """Recall against p95 single-query latency (core.charts, as in the report)."""
    tooltip = ["model:N", "configuration:N", alt.Tooltip("recall:Q", format=".4f"), "p50 ms:Q", "p95 ms:Q"]
    st.altair_chart(
        charts.recall_latency(rows, k=k, width="container", height=300, tooltip=tooltip), width="stretch"
    )


def budget_readout(sweeps: list[Sweep]) -> None:
    """The equal-budget sentence both ways."""
    if len(sweeps) != 2:
        return
    a, b = sweeps
    for x, y in ((a, b), (b, a)):
        st.markdown("- " + escape_md(equal_budget(x, y).sentence))


def scale_inputs() -> ScaleInputs:
    """Editable deployment figures (defaults stated in core.frontier.ScaleInputs)."""
    c = st.columns(6)
    return ScaleInputs(
        chunks=int(c[0].number_input("Chunks", min_value=1, step=1_000_000, key="fr_chunks")),
        qps=float(c[1].number_input("Queries/s", min_value=0.0, key="fr_qps")),
        replicas=int(c[2].number_input("Replicas", min_value=1, key="fr_replicas")),
        usd_per_gb_month=float(c[3].number_input("$/GB-month RAM", min_value=0.0, key="fr_ram")),
        usd_per_gpu_hour=float(c[4].number_input("$/GPU-hour", min_value=0.0, key="fr_gpu")),
        usd_per_disk_gb_month=float(c[5].number_input("$/GB-month disk", min_value=0.0, key="fr_disk")),
    )


def cost_section(sweeps: list[Sweep], by_slot: dict[str, ModelIndex]) -> None:
    """Cost at target scale: inputs, docs/s per model (measured or entered), the table and its formulas."""
    st.subheader("Cost at target scale")
    scale = scale_inputs()
    rates, indexes = [], list(by_slot.values())
    cols = st.columns(len(indexes))
    for col, (slot, mi) in zip(cols, by_slot.items(), strict=True):
        measured = frontier.docs_per_second(mi)
        rates.append(
            float(
                col.number_input(
                    f"{mi.spec.name}: docs/s embedding (measured {measured:.1f}; 0 = all cached)",
                    min_value=0.0,
                    value=round(measured, 1) or 100.0,
                    key=f"fr_rate_{slot.lower()}",
                )
            )
        )
    st.dataframe(
        pd.DataFrame(frontier.cost_rows(sweeps, indexes, rates, scale)), hide_index=True, width="stretch"
    )
    st.caption("Formulas:\n\n" + "\n\n".join(f"- {escape_md(f)}" for f in FORMULAS))
    st.caption(f"Defaults: {escape_md(json.dumps(asdict(ScaleInputs())))}")


def render() -> None:
    widgets.page_header("Frontier", SUBTITLE)
    corpus = widgets.indexed_corpus()
    if corpus is None:
        return
    indexes = {slot: mi for slot in build.SLOTS if (mi := build.built_index(slot)) is not None}
    kind, n_pseudo, k, hnsw = controls(list(frontier.judged_sets(corpus)))
    try:
        sweeps = run_all(indexes, kind, n_pseudo, k, hnsw)
    except Exception as exc:
        widgets.show_error(exc)
        return
    if sweeps is None:
        return
    for s in sweeps:
        if not s.mrl_trained:
            st.warning(
                f"{escape_md(s.model)} is not trained for truncation: only its full dimension is measured."
            )
    judged = any(r.ndcg10 is not None for s in sweeps for r in s.rows)
    metric = "recall"
    if judged:
        metric = st.radio("Quality axis", ["recall", "ndcg@10"], horizontal=True, key="fr_metric")
    rows = frontier.chart_rows(sweeps, metric=metric)
    st.subheader("Frontier")
    frontier_chart(rows, metric=metric, k=k)
    st.caption(PRECISION_NOTE)  # the app's own text: its Markdown (code spans) renders
    st.markdown("**Equal budget**")
    budget_readout(sweeps)
    st.subheader("Recall against latency")
    latency_chart(rows, k=k)
    with st.expander("Every configuration (table)"):
        st.dataframe(pd.DataFrame(rows).drop(columns=["recall", "method"]), hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    c1.download_button("Download CSV", pd.DataFrame(rows).to_csv(index=False), "frontier.csv", key="fr_csv")
    c2.download_button("Download JSON", json.dumps(to_json(sweeps), indent=2), "frontier.json", key="fr_json")
    cost_section(sweeps, dict(indexes))


render()
