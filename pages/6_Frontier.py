"""Frontier: what each configuration (dimensions x precision x index) costs and keeps, and the cost at scale."""

import json
from typing import Any

import pandas as pd
import streamlit as st

from core.frontier import FORMULAS, ScaleInputs, Sweep, binary_collapse_warning, recall_caveat, to_json
from core.models import Throughput, declared_default
from core.report import charts
from core.search import ModelIndex
from ui import build, frontier, state, widgets
from ui.state import Slot
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
    "against int8 (its bytes count both). HNSW: hnswlib (the build's M and ef), one graph per dimension: the "
    "model's own index at that dimension (the one Compare and Dimensions search, built once and kept in the store, "
    "so a second sweep loads it). hnswlib stores float32 only, so float16 HNSW searches the same graph holding the "
    "vectors rounded through float16 (a graph built on the rounded values would differ only where a rounding of at "
    "most 2^-11 flips a neighbour choice) and counts 2 bytes per dimension (index bytes: hnswlib's measured size "
    "less 2 bytes per dimension per vector). Recall@k: against the model's own "
    "full-dimension float32 exact top-k; latency: one untimed warm-up query, then up to 20 single queries on "
    "each configuration's own index (at least 5, fewer once they took 0.1 s together)."
)


def controls(judged: list[str]) -> tuple[str, int, int, bool]:
    """Query set (judged sets give nDCG@10 too), pseudo-query count, k and whether to include HNSW builds."""
    c1, c2, c3, c4 = st.columns([3, 1, 1, 2])
    kind = c1.radio("Query set", [*judged, frontier.PSEUDO_SET], key="fr_queryset", horizontal=False)
    n_pseudo = int(
        c2.number_input(
            "Pseudo-queries",
            min_value=10,
            max_value=2000,
            key="fr_pseudo",
            disabled=kind != frontier.PSEUDO_SET,
            help="chunks used as queries (each excludes itself); only with the pseudo-query set",
        )
    )
    k = int(c3.number_input("k", min_value=1, max_value=100, key="fr_k"))
    hnsw = c4.toggle(
        "Include HNSW",
        key="fr_hnsw",
        help="One hnswlib graph per dimension (float32; float16 searches the same graph with rounded values), kept in "
        "the store so a second sweep loads it; measured last: the slow part on big "
        "corpora.",
    )
    return str(kind), n_pseudo, k, bool(hnsw)


def run_all(
    indexes: dict[Slot, ModelIndex], kind: str, n_pseudo: int, k: int, hnsw: bool
) -> list[Sweep] | None:
    """Each model's sweep: from the memo when already run, else after a click (progress and a stop button)."""
    go = bool(state.page_value("_fr_go"))  # set by the Run button's click, good for this run only
    state.set_page_value("_fr_go", False)
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
    # Three slots, each one element replaced in place (st.empty): the note after a stop, the Run button (then
    # Stop), the progress bars. The click only sets a flag (on_click), so the run that sweeps never draws Run.
    note, button, bars_slot = st.empty(), st.empty(), st.empty()
    if not go:
        if state.page_value("_fr_stop"):
            note.warning(
                "Sweep stopped before it finished: run it again to measure the rest (a model already swept is "
                "kept).",
                icon=":material/stop_circle:",
            )
        button.button(
            "Run the sweep",
            type="primary",
            icon=":material/play_arrow:",
            key="fr_run",
            on_click=state.set_page_value,
            args=("_fr_go", True),
        )
        return None
    note.empty()
    button.button("Stop the sweep", icon=":material/stop_circle:", key="_fr_stop")  # a click reruns: it stops
    out = []
    with bars_slot.container():
        bars = {slot: st.progress(0.0, text=f"{mi.spec.name}: waiting") for slot, mi in indexes.items()}
    for slot, mi in indexes.items():
        bar = bars[slot]

        def progress(done_n: int, total: int, rate: float, bar=bar, name=mi.spec.name) -> None:
            bar.progress(
                done_n / max(total, 1), text=f"{name}: {done_n}/{total} configurations ({rate:.1f}/s)"
            )

        out.append(frontier.run_sweep(mi, *inputs[slot], k=k, hnsw=hnsw, progress=progress))
        bar.progress(1.0, text=f"{mi.spec.name}: done")
    note.empty()
    button.empty()
    bars_slot.empty()
    return out


def frontier_chart(rows: list[dict], *, metric: str, k: int) -> None:
    """Quality against index bytes per vector (log), colour per model, shape per precision, Pareto points joined
    (the report draws the same chart: core.report.charts)."""
    y_title = f"recall@{k} vs own full-dim float32" if metric == "recall" else "nDCG@10 (judged queries)"
    y = "recall" if metric == "recall" else "nDCG@10"
    chart = charts.frontier(rows, y=y, y_title=y_title, k=k, width="container", height=420)
    st.altair_chart(chart, width="stretch")


def latency_chart(rows: list[dict], *, metric: str, k: int) -> None:
    """The chosen quality against p95 single-query latency (core.report.charts, as in the report)."""
    y = "recall" if metric == "recall" else "nDCG@10"
    chart = charts.recall_latency(
        rows, k=k, y=y, y_title=frontier.metric_name(metric, k), width="container", height=380
    )
    st.altair_chart(chart, width="stretch")


def budget_readout(sweeps: list[Sweep], *, metric: str, k: int) -> None:
    """The equal-budget sentence both ways, on the quality metric of the charts."""
    if len(sweeps) != 2:
        return
    st.markdown(
        f"**Equal budget** (best {frontier.metric_name(metric, k)} within the other model's default cost)"
    )
    a, b = sweeps
    for x, y in ((a, b), (b, a)):
        st.markdown("- " + escape_md(frontier.budget_sentence(x, y, metric=metric)))


# (ScaleInputs field, label, widget key, type, minimum, help before the default), three to a row
_SCALE_FIELDS = (
    ("chunks", "Chunks", "fr_chunks", int, 1, ""),
    ("qps", "Queries/s", "fr_qps", float, 0.0, ""),
    ("replicas", "Replicas", "fr_replicas", int, 1, "copies of the index (RAM and disk); "),
    ("usd_per_gb_month", "$ per GB-month of RAM", "fr_ram", float, 0.0, ""),
    ("usd_per_disk_gb_month", "$ per GB-month of disk", "fr_disk", float, 0.0, ""),
    ("usd_per_cpu_core_month", "$ per CPU core-month", "fr_cpu", float, 0.0, "cores that search; "),
    ("usd_per_gpu_hour", "$ per GPU-hour", "fr_gpu", float, 0.0, "prices a GPU throughput's GPU-hours; "),
)


def scale_inputs() -> ScaleInputs:
    """Editable deployment figures (defaults stated in core.frontier.measure.ScaleInputs), three to a row."""
    d = ScaleInputs()
    cols = [c for _ in range(0, len(_SCALE_FIELDS), 3) for c in st.columns(3)]
    values: dict[str, Any] = {}
    for col, (field, label, key, kind, low, help_text) in zip(cols, _SCALE_FIELDS, strict=False):
        default = getattr(d, field)
        shown = (
            f"${default:.2f}"
            if field.startswith("usd")
            else f"{default:,}"
            if kind is int
            else f"{default:g}"
        )
        helped = f"{help_text}default {shown}"
        values[field] = (
            col.number_input(
                label, min_value=int(low), key=key, help=helped, step=1_000_000 if field == "chunks" else 1
            )
            if kind is int
            else col.number_input(label, min_value=float(low), key=key, help=helped)
        )
    return ScaleInputs(**values)


SOURCE_NAMES = {"measured": "measured here", "declared": "declared (target hardware)"}


def embedding_rates(by_slot: dict[Slot, ModelIndex]) -> list[Throughput]:
    """The throughput per model for the embedding cost: measured on this machine (the last build, else a timed
    sample), or declared for target hardware (a published figure with its source, or the user's own)."""
    rates = []
    cols = st.columns(len(by_slot))
    for col, (slot, mi) in zip(cols, by_slot.items(), strict=True):
        s = slot.lower()
        with col:
            st.radio(
                f"{mi.spec.name}: throughput",
                frontier.THROUGHPUT_SOURCES,
                format_func=SOURCE_NAMES.get,
                key=f"fr_tp_{s}",
                horizontal=True,
            )
            if state.get(f"fr_tp_{s}") == "declared":
                published = declared_default(mi.spec.name)
                if not state.get(f"fr_tp_rate_{s}") and published is not None:
                    state.put(f"fr_tp_rate_{s}", published.docs_per_s)  # the published figure, editable
                st.number_input(
                    "docs/s on the target hardware",
                    min_value=0.0,
                    key=f"fr_tp_rate_{s}",
                    help="published: "
                    + (
                        f"{published.docs_per_s:,.0f} on {published.hardware} ({published.source})"
                        if published
                        else "none for this model; enter your server's figure"
                    ),
                )
                st.text_input(
                    "target hardware",
                    key=f"fr_tp_hw_{s}",
                    placeholder=published.hardware if published else "e.g. 1 x L4, TEI",
                )
            # a timed sample only when no build or sample of this model is recorded in the store yet
            with st.spinner(f"Timing {escape_md(mi.spec.name)} on 32 chunks …"):
                tp, why = frontier.throughput_or_measured(slot, mi)
            if why:
                st.warning(escape_md(why), icon=":material/info:")
            st.caption(escape_md(tp.label()))
        rates.append(tp)
    return rates


def cost_section(sweeps: list[Sweep], by_slot: dict[Slot, ModelIndex], *, metric: str, k: int) -> None:
    """Cost at target scale: inputs, the throughput per model (measured or declared), the table and its formulas."""
    st.subheader("Cost at target scale")
    scale = scale_inputs()
    rates, indexes = embedding_rates(by_slot), list(by_slot.values())
    for s, tp in zip(sweeps, rates, strict=True):
        st.markdown("- " + escape_md(frontier.embed_sentence(s, tp, scale)))
    st.dataframe(
        pd.DataFrame(frontier.cost_rows(sweeps, indexes, rates, scale, metric=metric)),
        hide_index=True,
        width="stretch",
        column_config=frontier.cost_columns(metric=metric, k=k),
    )
    st.caption(escape_md(recall_caveat(sweeps, scale)))
    d = ScaleInputs()
    with st.expander("Formulas and defaults", icon=":material/function:", expanded=True):
        # escaped: every x, *, / and parenthesis of a formula reads as written, nothing turns into Markdown
        st.markdown("\n".join(f"- {escape_md(f)}" for f in FORMULAS))
        defaults = (
            f"Defaults: {d.chunks:,} chunks, {d.qps:g} queries/s, {d.replicas} replica, "
            f"${d.usd_per_gb_month:.2f} per GB-month of RAM (memory-optimised cloud instance), "
            f"${d.usd_per_gpu_hour:.2f} per GPU-hour (one data-centre GPU on demand), "
            f"${d.usd_per_disk_gb_month:.2f} per GB-month of block storage, "
            f"${d.usd_per_cpu_core_month:.2f} per CPU core-month (one on-demand cloud vCPU; a CPU throughput's "
            "CPU-hours are priced at it / 730): rough 2025 list prices."
        )
        st.caption(escape_md(defaults))  # escaped: a bare $ would start LaTeX


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
    flat = [escape_md(s.model) for s in sweeps if not s.mrl_trained]
    if flat:
        st.info(
            f"{' and '.join(flat)} {'is' if len(flat) == 1 else 'are'} not trained for truncation "
            "(Matryoshka): below full dimension every configuration is measured twice, by post-hoc truncation "
            "(the first d dims) and by PCA rotation (rotated onto this corpus's principal directions first); "
            "the table's reduction column says which.",
            icon=":material/info:",
        )
    for s in sweeps:
        collapse = binary_collapse_warning(s)
        if collapse:
            st.warning(escape_md(collapse[:1].upper() + collapse[1:]), icon=":material/warning:")
    judged = any(r.ndcg10 is not None for s in sweeps for r in s.rows)
    metric = "recall"
    if judged:
        metric = st.radio(
            "Quality axis (charts, equal budget, cost table)",
            ["recall", "ndcg@10"],
            format_func=lambda m: (
                frontier.metric_name(m, k)
                + (" vs own full-dim float32" if m == "recall" else " on the judged queries")
            ),
            horizontal=True,
            key="fr_metric",
        )
    rows = frontier.chart_rows(sweeps, metric=metric)
    st.subheader("Frontier")
    frontier_chart(rows, metric=metric, k=k)
    st.caption(PRECISION_NOTE)  # the app's own text: its Markdown (code spans) renders
    budget_readout(sweeps, metric=metric, k=k)
    st.subheader(f"{frontier.metric_name(metric, k)} against latency")
    latency_chart(rows, metric=metric, k=k)
    with st.expander("Every configuration (table)", icon=":material/table:"):
        cols = frontier.sweep_columns(k=k, judged=judged)
        st.dataframe(
            pd.DataFrame(rows), hide_index=True, width="stretch", column_config=cols, column_order=list(cols)
        )
    c1, c2 = st.columns(2)
    c1.download_button(
        "Download CSV",
        pd.DataFrame(rows).drop(columns=["recall"]).to_csv(index=False),
        "frontier.csv",
        mime="text/csv",
        icon=":material/download:",
        key="fr_csv",
    )
    c2.download_button(
        "Download JSON",
        json.dumps(to_json(sweeps), indent=2),
        "frontier.json",
        mime="application/json",
        icon=":material/download:",
        key="fr_json",
    )
    cost_section(sweeps, indexes, metric=metric, k=k)


render()
