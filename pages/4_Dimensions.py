"""Dimensions: how much retrieval a model keeps when its embeddings are cut to d dims, by each of its reductions."""

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.models import published_figures
from core.report import charts
from core.search import ModelIndex, equal_cost_dims
from core.types import Corpus, SearchParams
from ui import build, compare, dims, pair, resources, state, widgets
from ui.state import QUERY_SET_NAMES, QuerySet, Slot
from ui.text import chunk_place, cut_to_width, escape_md, page_parts, short_path, strip_markdown
from ui.widgets import QuerySetChoice

RULE = "#4d4d4d"  # the chosen d and the equal-bytes mark: grey, apart from the models' blue and orange
SUBTITLE = (
    "How much of each model's own full-dimension top-k survives when its stored vectors are cut to d dims "
    "(slicing, never re-embedding): Matryoshka-trained models by their prefix, other models by post-hoc truncation "
    "and by PCA rotation."
)


def _other(slot: Slot) -> Slot:
    return "B" if slot == "A" else "A"


def default_slot(indexes: dict[Slot, ModelIndex]) -> None:
    """Once per session: start on the model trained for truncation (Qwen3), if either is."""
    if state.page_value("_mrl_slot_default") is None:
        trained = [s for s, mi in indexes.items() if mi.spec.mrl_dims]
        state.put("mrl_slot", trained[0] if trained else "A")
        state.set_page_value("_mrl_slot_default", True)


def controls(names: dict[Slot, str]) -> QuerySetChoice:
    """Model, query set, k and the number of pseudo-queries."""
    c1, c2, c3, c4 = st.columns([2, 3, 1, 1.4])
    c1.radio("Model", build.SLOTS, key="mrl_slot", format_func=lambda s: names[s], horizontal=False)
    chosen = widgets.query_set_chooser("mrl", set_area=c2, count_area=c4, horizontal=False)
    c3.number_input("k", min_value=1, max_value=100, key="mrl_k")
    return chosen


def what_runs(corpus: Corpus, indexes: dict[Slot, ModelIndex]) -> None:
    """Say plainly, in at most two lines, what this page can show with the models that run here."""
    specs = [indexes[s].spec for s in build.SLOTS]
    trained = [sp for sp in specs if sp.mrl_dims]
    names = " and ".join(
        f"{escape_md(sp.name)} ({indexes[s].dim} dims)" for s, sp in zip(build.SLOTS, specs, strict=True)
    )
    if trained:
        st.caption(
            f"Running {names}. "
            + " and ".join(escape_md(sp.name) for sp in trained)
            + " was trained for Matryoshka truncation: its recall should hold far below full dims."
        )
        return
    lines = [
        f"Running {names}: neither was trained for Matryoshka truncation. Each has two curves: post-hoc "
        "truncation (the first d dims, expect recall to fall quickly) and PCA rotation (rotated onto this corpus's "
        "principal directions first, fitted once and stored; usually keeps far more)."
    ]
    headline = pair.headline_pair(corpus)[0]
    if all(sp.name != headline for sp in specs):
        lines.append(
            f"For the {escape_md(headline)} curve from 2560 down to 32 dims: {pair.headline_action(corpus)}."
        )
    st.info("  \n".join(lines), icon=":material/info:")


def dims_slider(mi: ModelIndex) -> list[int]:
    """The dimension slider (the model's MRL stops, or standard steps up to its full dimension)."""
    stops = mi.offered_dims
    if state.get("mrl_dims") not in stops:
        state.put("mrl_dims", stops[len(stops) // 2])
    st.select_slider("Dimensions", options=stops, key="mrl_dims")
    return stops


def reduction_choice(mi: ModelIndex) -> str:
    """Which reduction the chosen d is shown for (a radio when the model has two: post-hoc truncation, PCA)."""
    ids = [r.id for r in mi.reductions]
    if len(ids) == 1:
        return ids[0]
    if state.page_value("_mrl_reduction") not in ids:
        state.set_page_value("_mrl_reduction", ids[0])
    st.radio(
        "Reduction at the chosen dimension",
        ids,
        key="_mrl_reduction",
        format_func=lambda r: dims.label(mi, r),
        horizontal=True,
        help="post-hoc truncation: the first d dims of the stored vectors; PCA rotation: the vectors (and queries) "
        "rotated onto the principal directions of this corpus's vectors first, then the first d dims",
    )
    return str(state.page_value("_mrl_reduction"))


def effective_set(chosen: QuerySetChoice) -> QuerySet:
    """The chosen set (the chooser offers only sets that have queries here)."""
    if chosen.empty:  # cannot happen through the radio; kept so a stale state never runs an empty set
        return "pseudo"
    return chosen.kind


def headline(
    mi: ModelIndex, corpus: Corpus, at_d: dict[str, Any], *, n_queries: int, kind: str, d: int, k: int
) -> None:
    """Recall at d (truncation alone and end to end), memory and search time at d."""
    full = mi.dim
    here = mi.backend is None or at_d["reduction"] == "PCA rotation"  # PCA indexes are in-process hnswlib
    engine = "HNSW" if here else "Qdrant"  # Qdrant: a d-dim prefetch rescored at full dims
    how = "HNSW at d" if here else "Qdrant prefetch at d, rescored at full dims,"
    m = st.columns(4)
    short = "PCA" if at_d["reduction"] == "PCA rotation" else "truncation"  # fits the metric's width
    m[0].metric(
        f"Recall@{k} · {short}",
        f"{at_d['truncation recall']:.3f}",
        help=f"{at_d['reduction']}: exact search at d vs exact at full dims",
    )
    m[1].metric(
        f"Recall@{k} · {engine} at d", f"{at_d['end-to-end recall']:.3f}", help=f"{how} vs exact at full dims"
    )
    m[2].metric(
        f"Vector memory · {d / full:.0%} of full",
        f"{at_d['vector MB']:.2f} MB",
        help=f"{d} of {full} float32 dims per vector: {4 * d:,} bytes instead of {4 * full:,}",
    )
    m[3].metric(f"{engine} search", f"{at_d['hnsw ms/query']:.2f} ms", help="per query, at d dims")
    st.caption(
        f"{n_queries} queries ({escape_md(QUERY_SET_NAMES.get(kind, kind))}) · {len(corpus.chunks):,} chunks · full dimension {full:,} · "
        + (f"HNSW index at d: {at_d['index MB']:.2f} MB" if mi.backend is None else "index held by Qdrant")
    )


def curve_rows(model: str, rows: list[dict[str, Any]], *, value: str, curve: str) -> list[dict[str, Any]]:
    """Rows of the recall chart's lines: one per reduction (its label leads the curve's name)."""
    return [
        {
            "model": model,
            "dims": r["dims"],
            "recall": r[value],
            "reduction": r["reduction"],
            "curve": f"{r['reduction']}, {curve}",
        }
        for r in rows
    ]


def other_model_rows(
    other: ModelIndex, other_slot: Slot, name: str, kind: QuerySet, texts: list[str], n_pseudo: int, k: int
) -> list[dict[str, Any]]:
    """The other model's truncation curve on the same query set (its line on the chart)."""
    try:
        oq, oex = dims.query_set(other, other_slot, kind, texts, n_pseudo)
        return curve_rows(name, dims.reduction_rows(other, oq, oex, k=k), value="recall", curve="exact at d")
    except Exception as exc:
        widgets.show_error(exc)
        return []


def recall_chart(
    mi: ModelIndex,
    other: ModelIndex,
    rows: list[dict[str, Any]],
    curve: list[dict[str, Any]],
    *,
    names: dict[Slot, str],
    stops: list[int],
    d: int,
    k: int,
) -> None:
    """Recall over all dimensions, the chosen d, and the point where mi costs what the other model costs."""
    full = mi.dim
    frame = pd.DataFrame(rows)
    span = [int(frame["dims"].min()), int(frame["dims"].max())] if len(frame) else [min(stops), full]

    def stacked(**more: Any) -> alt.Legend:  # vertical legends at the bottom: two side by side fit 820 px
        return alt.Legend(orient="bottom", direction="vertical", labelLimit=0, **more)

    base = alt.Chart(frame).encode(
        x=alt.X(
            "dims:Q",
            scale=alt.Scale(type="log", base=2, domain=span, nice=False),
            axis=alt.Axis(values=sorted(set(frame["dims"])) if len(frame) else stops),
            title="dimensions (log scale)",
        ),
        y=alt.Y("recall:Q", scale=alt.Scale(domain=[0, 1]), title=f"recall@{k} vs full-dim exact"),
        # the palette of every chart (core.report.charts): A blue, B orange, whichever model the page is on
        color=charts.model_colour([{"model": names[s]} for s in build.SLOTS], legend=stacked(title=None)),
        # the line style says the reduction and the search (a legend of dashed strokes); point shapes: reduction
        strokeDash=alt.StrokeDash("curve:N", legend=stacked(title=None, symbolType="stroke")),
        shape=alt.Shape("reduction:N", legend=None),
        detail="curve:N",
        tooltip=["model", "curve", "dims", alt.Tooltip("recall:Q", format=".3f")],
    )
    layers = [base.mark_line(point=True)]
    layers.append(
        alt.Chart(pd.DataFrame({"dims": [d]})).mark_rule(color=RULE, strokeWidth=2).encode(x="dims:Q")
    )
    eq = equal_cost_dims(other.dim, stops)
    if eq and eq < full:
        note = pd.DataFrame({"dims": [eq], "label": [f"same bytes as {other.spec.name} ({other.dim} dims)"]})
        layers.append(
            alt.Chart(note).mark_rule(color=RULE, strokeDash=[4, 4], opacity=0.7).encode(x="dims:Q")
        )
        layers.append(
            alt.Chart(note)
            .mark_text(align="left", baseline="top", dx=4, dy=4, color=RULE)
            .encode(x="dims:Q", y=alt.datum(1.0), text="label:N")  # inside the plot, at its top
        )
    st.altair_chart(alt.layer(*layers).properties(height=340), width="stretch")
    if eq and eq < full:
        eq_recall = next((r["recall"] for r in curve if r["dims"] == eq), None)
        if eq_recall is not None:
            st.markdown(
                f"At **{eq} dims** {escape_md(mi.spec.name)} stores vectors as large as "
                f"{escape_md(other.spec.name)}'s {other.dim} and keeps **{eq_recall:.1%}** of its own "
                f"full-dimension top-{k}."
            )


def cost_table(curve: list[dict[str, Any]], e2e: list[dict[str, Any]] | None) -> None:
    """Recall, search time and memory per dimension (with the HNSW columns when end to end is on)."""
    cost = pd.DataFrame(curve)[["dims", "recall", "exact ms/query", "vector MB"]]
    if e2e:
        e2e_df = pd.DataFrame(e2e)[["dims", "end-to-end recall", "hnsw ms/query", "index MB"]]
        cost = cost.merge(e2e_df, on="dims")
    with st.expander("Cost per dimension (table)"):
        st.dataframe(cost.round(4), hide_index=True, width="stretch")


def published_scores(mi: ModelIndex) -> None:
    """The scores the model's authors published per trained dimension, with their source (when there are any)."""
    figures = published_figures(mi.spec.name)
    rows = figures.rows(mi.offered_dims) if figures else []
    if not figures or not rows:
        return
    st.caption(
        f"Published by its authors for {escape_md(mi.spec.name)} ({escape_md(figures.benchmark)}), per dimension. "
        f"Source: {escape_md(figures.source)}. Those are scores on MTEB's tasks; the curve above is how much of "
        "its own full-dimension top-k this corpus keeps, so the two do not compare number for number."
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def shown_query() -> tuple[str, str]:
    """The query shown at d dims and where it comes from: the Compare page's query, else its latest one."""
    query = state.cmp_query()
    if query:
        return query, "the query on the Compare page"
    history = state.history()
    if history:
        return history[0], "the latest query asked on the Compare page"
    return "", ""


def results_at_d(
    mi: ModelIndex, corpus: Corpus, slot: Slot, *, d: int, k: int, reduction: str = "prefix"
) -> None:
    """The Compare page's query at d dims (HNSW) beside full dims (exact)."""
    st.subheader("Results at the chosen dimension")
    query, source = shown_query()
    if not query:
        st.info(
            "Ask a query on the Compare page to see its results at d dims beside full-dimension results here."
        )
        return
    st.markdown(f"Query ({source}): **{escape_md(query)}**")
    full = mi.dim
    try:
        qvec = resources.query_vectors(mi, [query], instruction=compare.instruction(slot))
        at_dims = mi.search_vectors(qvec, SearchParams(k=k, dims=d, reduction=reduction))
        at_full = mi.search_vectors(qvec, SearchParams(k=k, dims=full, exact=True))
    except Exception as exc:
        widgets.show_error(exc)
        return
    full_rows = set(at_full[0][0].tolist())
    parts = resources.memo(("page_parts", corpus.sha256), lambda: page_parts(corpus.chunks))
    # one table above the other: side by side, half the width hid the 'where' and 'text' columns at 1280 px
    for title, (idx, scores) in ((f"{d} dims (HNSW)", at_dims), (f"{full} dims (exact)", at_full)):
        with st.container():
            st.markdown(f"**{title}**")
            table = []
            for rank, (i, score) in enumerate(zip(idx[0].tolist(), scores[0].tolist(), strict=True), 1):
                chunk = corpus.chunks[int(i)]
                table.append(
                    {
                        "rank": rank,
                        "in full top-k": "✓" if i in full_rows else "✗",
                        "score": round(float(score), 3),
                        "source": short_path(chunk.source, 40),
                        "where": chunk_place(chunk, parts),
                        "text": cut_to_width(
                            strip_markdown(chunk.text), 100
                        ),  # three lines of the cell, any script
                    }
                )
            st.dataframe(
                pd.DataFrame(table),
                hide_index=True,
                width="stretch",
                height=widgets.table_height(len(table), widgets.WRAP_ROW_PX),  # every row, no inner scroll
                row_height=widgets.WRAP_ROW_PX,  # above 4 rem Streamlit wraps cell text: the snippet shows on 3 lines
                column_config={  # widths in px that fit 1280 px with the sidebar open: no column is cut
                    "rank": st.column_config.NumberColumn("rank", width=48),
                    "in full top-k": st.column_config.TextColumn(
                        "in full", width=62, help="Also in the full-dimension exact top-k"
                    ),
                    "score": st.column_config.NumberColumn("score", format="%.3f", width=62),
                    "source": st.column_config.TextColumn("source", width=190),
                    "where": st.column_config.TextColumn(
                        "where", width=110, help="Page (and part of the page) or line span in the file"
                    ),
                    "text": st.column_config.TextColumn("text", width=330),
                },
            )


SET_WORDS = {
    "sample": "sample queries",
    "history": "queries of this session's history",
}


def doing(mi: ModelIndex, slot: Slot, name: str, chosen: QuerySetChoice, kind: QuerySet, k: int) -> str:
    """What the spinner says while a model's curve is made: the embedding of queries not held yet, or the curve."""
    n = (
        0
        if kind == "pseudo"
        else resources.missing_query_vectors(mi, chosen.texts, instruction=compare.instruction(slot))
    )
    if n:
        return (
            f"Embedding {n} {SET_WORDS.get(kind, 'queries')} with {escape_md(name)} … "
            "(once: the Judge page reuses them)"
        )
    return f"Measuring recall@{k} at every dimension for {escape_md(name)} …"


def render() -> None:
    widgets.page_header("Dimensions", SUBTITLE)
    corpus = widgets.indexed_corpus()
    if corpus is None:
        return
    indexes = {slot: mi for slot in build.SLOTS if (mi := build.built_index(slot)) is not None}
    names = {slot: f"{slot} · {mi.spec.name}" for slot, mi in indexes.items()}
    default_slot(indexes)
    what_runs(corpus, indexes)
    chosen = controls(names)
    slot = state.mrl_slot()
    mi, other_slot = indexes[slot], _other(slot)
    other = indexes[other_slot]
    try:
        stops = dims_slider(mi)
        reduction = reduction_choice(mi)
    except Exception as exc:
        widgets.show_error(exc)
        return
    d, k = int(state.get("mrl_dims")), int(state.get("mrl_k"))
    kind = effective_set(chosen)

    try:
        with st.spinner(doing(mi, slot, names[slot], chosen, kind, k), show_time=True):
            qvecs, exclude = dims.query_set(mi, slot, kind, chosen.texts, chosen.n_pseudo)
            at_d = dims.point(mi, qvecs, exclude, d=d, k=k, reduction=reduction)
            curve = dims.truncation_rows(mi, qvecs, exclude, k=k, reduction=reduction)
            every = dims.reduction_rows(mi, qvecs, exclude, k=k)
    except Exception as exc:
        widgets.show_error(exc)
        return
    headline(mi, corpus, at_d, n_queries=len(qvecs), kind=kind, d=d, k=k)

    st.subheader("Recall over all dimensions")
    rows = curve_rows(names[slot], every, value="recall", curve="exact at d")
    e2e: list[dict[str, Any]] | None = None
    if st.toggle("Add end to end (HNSW at every d; builds the missing indexes once)", key="_mrl_e2e"):
        try:
            with st.spinner("Building per-dimension indexes …"):
                e2e = dims.end_to_end_rows(mi, qvecs, exclude, k=k, reduction=reduction)
        except Exception as exc:
            widgets.show_error(exc)
        else:
            rows += curve_rows(names[slot], e2e, value="end-to-end recall", curve="HNSW at d")
    with st.spinner(doing(other, other_slot, names[other_slot], chosen, kind, k), show_time=True):
        rows += other_model_rows(other, other_slot, names[other_slot], kind, chosen.texts, chosen.n_pseudo, k)
    recall_chart(mi, other, rows, curve, names=names, stops=stops, d=d, k=k)
    published_scores(mi)
    cost_table(curve, e2e)
    results_at_d(mi, corpus, slot, d=d, k=k, reduction=reduction)


render()
