"""Altair chart specs shared by the app's pages and the report (pure altair: no streamlit, no pandas needed).

Each builder takes plain rows (lists of dicts) and returns an ``alt.Chart`` / ``alt.LayerChart``; the pages show
it with ``st.altair_chart`` and the report renders the same spec to SVG offline (core.report.html). Rows carry
no user text except model names, which the renderers escape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import altair as alt

Row = dict[str, Any]
# Okabe & Ito's colour-blind-safe categorical palette (Color Universal Design), ordered so that the first two
# (model A, model B) differ in hue and in lightness: blue and orange stay apart for every common colour-vision
# deficiency and in greyscale print.
MODEL_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
BLUE, AMBER = MODEL_COLOURS[0], MODEL_COLOURS[1]  # A wins / B wins: the models' own colours
# One shape per storage precision, picked to differ in outline (not only in size) at 70 px^2.
PRECISION_SHAPES = {
    "float32": "circle",
    "float16": "triangle-up",
    "int8": "diamond",
    "binary": "square",
    "binary+rescore": "cross",
}
PRECISION_TITLE = "precision (filled: exact, hollow: HNSW)"
REPORT_WIDTH = 600  # px: fits an A4 or Letter page with 14 mm margins at 96 dpi


def _clean(value: Any) -> Any:
    """NaN is not JSON: a missing figure (e.g. nDCG without judgments) travels as null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _data(rows: Sequence[Row]) -> alt.Data:
    return alt.Data(values=[{k: _clean(v) for k, v in r.items()} for r in rows])


def models_of(rows: Sequence[Row]) -> list[str]:
    """The model names in the order they first appear (model A first)."""
    return list(dict.fromkeys(str(r["model"]) for r in rows))


def model_scale(rows: Sequence[Row]) -> alt.Scale:
    """Model name -> colour: A blue, B orange, then the rest of MODEL_COLOURS."""
    models = models_of(rows)
    return alt.Scale(domain=models, range=[MODEL_COLOURS[i % len(MODEL_COLOURS)] for i in range(len(models))])


def model_colour(rows: Sequence[Row], *, legend: alt.Legend | None = None) -> alt.Color:
    """One fixed colour per model, the same in every chart of a page or report (A blue, B orange, ...)."""
    return alt.Color(
        "model:N",
        scale=model_scale(rows),
        legend=legend if legend is not None else alt.Legend(orient="bottom", title="model"),
    )


def precision_shape(rows: Sequence[Row]) -> alt.Shape:
    """One shape per precision, in the sweep's order (float32 first), each outline distinct.

    Vega-Lite draws no legend for fill opacity, so the precision legend's title says what hollow means.
    """
    present = {str(r["precision"]) for r in rows}
    domain = [p for p in PRECISION_SHAPES if p in present] + sorted(present - set(PRECISION_SHAPES))
    shapes = [PRECISION_SHAPES.get(p, "stroke") for p in domain]
    return alt.Shape(
        "precision:N",
        scale=alt.Scale(domain=domain, range=shapes),
        legend=alt.Legend(
            orient="bottom", title=PRECISION_TITLE if _has_hnsw(rows) else "precision", titleLimit=400
        ),
    )


def _has_hnsw(rows: Sequence[Row]) -> bool:
    return any(r.get("index") == "hnsw" for r in rows)


def index_fill(rows: Sequence[Row]) -> alt.FillOpacity:
    """Exact search filled, HNSW hollow: the same precision through two indexes stays tell-apart."""
    present = {str(r.get("index", "exact")) for r in rows}
    domain = [i for i in ("exact", "hnsw") if i in present]
    opacity = {"exact": 1.0, "hnsw": 0.0}
    return alt.FillOpacity("index:N", scale=alt.Scale(domain=domain, range=[opacity[i] for i in domain]))


def per_query_diff(rows: Sequence[Row], *, metric: str, width: int | str = REPORT_WIDTH) -> alt.Chart:
    """One bar per query: A − B on ``metric``, largest win of A first (rows: {"i", "diff"}; "i" = position;
    "qid" and "query", where given, show on hover). Above 0 in A's colour, below in B's."""
    extra = [f"{f}:N" for f in ("qid", "query") if rows and f in rows[0]]
    return (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X(
                "i:O",
                title=f"queries ({len(rows)}), sorted by A − B",
                axis=alt.Axis(labels=False, ticks=False),
            ),
            y=alt.Y("diff:Q", title=f"{metric}: A − B"),
            color=alt.condition("datum.diff > 0", alt.value(BLUE), alt.value(AMBER)),
            tooltip=[*(extra or ["i:O"]), alt.Tooltip("diff:Q", format="+.3f")],
        )
        .properties(width=width, height=200)
    )


def mrl_curve(rows: Sequence[Row], *, k: int, width: int | str = REPORT_WIDTH) -> alt.Chart:
    """recall@k at d dims (exact at d) against exact full-dimension search, one line per model and reduction.

    rows: {"model", "dims", "recall"} and optionally "reduction" (core.dims labels: a dash style and point shape each).
    """
    dims = sorted({int(r["dims"]) for r in rows}) or [1]
    by_reduction: dict[str, Any] = {}
    if any("reduction" in r for r in rows):
        # one legend of dashed strokes (the points' shapes follow it), stacked so two legends fit side by side
        legend = alt.Legend(
            orient="bottom", direction="vertical", title="reduction", symbolType="stroke", labelLimit=0
        )
        by_reduction = {
            "strokeDash": alt.StrokeDash("reduction:N", legend=legend),
            "shape": alt.Shape("reduction:N", legend=None),
        }
    return (
        alt.Chart(_data(rows))
        .mark_line(point=True)
        .encode(
            **by_reduction,
            x=alt.X(
                "dims:Q",
                scale=alt.Scale(type="log", base=2, domain=[dims[0], dims[-1]], nice=False),
                axis=alt.Axis(values=dims),
                title="dimensions (log scale)",
            ),
            y=alt.Y("recall:Q", scale=alt.Scale(domain=[0, 1]), title=f"recall@{k} vs full-dim exact"),
            color=model_colour(
                rows,
                legend=alt.Legend(orient="bottom", title=None, labelLimit=0, direction="vertical")
                if by_reduction
                else alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                "model:N",
                *(["reduction:N"] if by_reduction else []),
                "dims:Q",
                alt.Tooltip("recall:Q", format=".3f"),
            ],
        )
        .properties(width=width, height=260)
    )


def _has(rows: Sequence[Row], key: str) -> bool:
    return any(_clean(r.get(key)) is not None for r in rows)


# Hover text for figures that are missing on some points: words instead of vega's "null" / "false".
_HOVER_TEXT = {
    "build": "isValid(datum['build s']) ? format(datum['build s'], '.2f') + ' s' : 'none (exact search)'",
    "Pareto-optimal": "datum.pareto ? 'yes' : 'no'",
}


def sweep_tooltip(rows: Sequence[Row], *, k: int) -> list[alt.Tooltip]:
    """Hover text of a sweep point: the configuration and every figure measured for it (nDCG, build when known)."""
    tips = [
        alt.Tooltip("model:N"),
        alt.Tooltip("configuration:N", title="configuration"),
        alt.Tooltip("bytes per vector:Q", format=",", title="vector bytes"),
        alt.Tooltip("index bytes per vector:Q", format=",.1f", title="index bytes per vector"),
        alt.Tooltip("recall:Q", format=".4f", title=f"recall@{k}"),
    ]
    if _has(rows, "nDCG@10"):
        tips.append(alt.Tooltip("nDCG@10:Q", format=".4f"))
    tips += [alt.Tooltip("p50 ms:Q", format=".3f"), alt.Tooltip("p95 ms:Q", format=".3f")]
    if _has(rows, "build s"):
        tips.append(alt.Tooltip("build:N", title="HNSW build"))
    if any("pareto" in r for r in rows):
        tips.append(alt.Tooltip("Pareto-optimal:N"))
    return tips


def _points(rows: Sequence[Row], x: alt.X, y: alt.Y, tooltip: Sequence[Any]) -> alt.Chart:
    """Sweep points: colour = model (fill and outline), shape = precision, hollow = HNSW."""
    outline = alt.Stroke("model:N", scale=model_scale(rows), legend=None)
    enc: dict[str, Any] = {
        "x": x,
        "y": y,
        "color": model_colour(rows),
        "stroke": outline,
        "shape": precision_shape(rows),
    }
    if any("index" in r for r in rows):
        enc["fillOpacity"] = index_fill(rows)
    return (
        alt.Chart(_data(rows))
        .transform_calculate(**_HOVER_TEXT)
        .mark_point(filled=True, size=80, strokeWidth=1.5, opacity=0.95)
        .encode(**enc, tooltip=list(tooltip))
    )


def frontier(
    rows: Sequence[Row],
    *,
    y: str = "recall",
    y_title: str = "recall",
    k: int = 10,
    width: int | str = REPORT_WIDTH,
    height: int = 300,
    tooltip: Sequence[Any] | None = None,
) -> alt.LayerChart | alt.FacetChart:
    """Quality against index bytes per vector (log): colour per model, shape per precision, Pareto points joined.

    rows: {"model", "configuration", "precision", "index", "index bytes per vector", y, "pareto"} (as
    ui.frontier.chart_rows). The Pareto line of each model is drawn in that model's colour.
    """
    x = alt.X(
        "index bytes per vector:Q",
        scale=alt.Scale(type="log", nice=False, padding=14),
        title="bytes per vector, index included (log)",
    )
    yy = alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(padding=10))  # points at 1.0 are drawn whole
    front = (
        alt.Chart(_data(rows))
        .transform_filter("datum.pareto")
        .mark_line(strokeDash=[5, 3], strokeWidth=1.5)
        .encode(x=x, y=yy, color=model_colour(rows), order="index bytes per vector:Q")
    )
    points = _points(rows, x, yy, tooltip or sweep_tooltip(rows, k=k))
    return alt.layer(front, points).properties(width=width, height=height)


def recall_latency(
    rows: Sequence[Row],
    *,
    k: int,
    y: str = "recall",
    y_title: str | None = None,
    width: int | str = REPORT_WIDTH,
    height: int = 240,
    tooltip: Sequence[Any] | None = None,
) -> alt.Chart:
    """Quality (recall by default) against p95 single-query search latency (log); the frontier chart's colours,
    shapes and fills."""
    x = alt.X(
        "p95 ms:Q",
        scale=alt.Scale(type="log", nice=False, padding=14),
        title="p95 single-query search ms (log)",
    )
    yy = alt.Y(f"{y}:Q", title=y_title or f"recall@{k}", scale=alt.Scale(padding=10))
    return _points(rows, x, yy, tooltip or sweep_tooltip(rows, k=k)).properties(width=width, height=height)


# ---- the corpus map ------------------------------------------------------------------------------------

# Paul Tol's "muted" qualitative scheme (colour-blind safe, print friendly): chunks by region. None of its nine
# colours is model A's blue or model B's orange, so the query marks drawn on top stay tell-apart.
REGION_COLOURS = (
    "#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499",
)  # fmt: skip
TIE_GREY = "#8C8C8C"
OUTCOMES = (
    "A better",
    "B better",
    "tie",
)  # the legend's words for core.corpus_map's outcome "A" | "B" | "tie"
OUTCOME_SHAPES = ("triangle-up", "triangle-down", "diamond")  # a second cue beside the colour


def region_colour(i: int) -> str:
    """The colour of the i-th region (the palette repeats past nine regions; the table names every region)."""
    return REGION_COLOURS[i % len(REGION_COLOURS)]


def corpus_map(
    chunks: Sequence[Row],
    queries: Sequence[Row] = (),
    *,
    regions: Sequence[str] = (),
    centres: Sequence[Row] = (),
    selected: Sequence[Row] = (),
    density: Sequence[Row] = (),
    width: int | str = REPORT_WIDTH,
    height: int = 420,
    select: str | None = None,
) -> alt.LayerChart:
    """Chunks as small dots coloured by region, queries on top as larger marks coloured by outcome (A's blue,
    B's orange, grey for a tie; one shape each), region numbers at their centres and a ring on the selected chunk.

    chunks: {"x", "y", "region", "chunk", "source"}; queries: {"x", "y", "outcome" (OUTCOMES), "query", "diff",
    "overlap"}; regions: the region names in legend order; centres: {"x", "y", "number", "region"}, where each
    region's number is written; selected: chunk rows to ring; density: {"x", "x2", "y", "y2", "chunks"} cells of all
    the chunks, drawn in grey under the dots when the dots are a sample (``regions.density_rows``). The axes of a 2-D layout
    mean nothing, so none is drawn. ``select``: a point selection on the chunk id under that name (the page reads
    it back; the report draws no selection)."""
    hidden = alt.Axis(labels=False, ticks=False, title=None, grid=False, domain=False)
    x = alt.X("x:Q", axis=hidden, scale=alt.Scale(zero=False, nice=False, padding=8))
    y = alt.Y("y:Q", axis=hidden, scale=alt.Scale(zero=False, nice=False, padding=8))
    domain = list(regions) or list(dict.fromkeys(str(r["region"]) for r in chunks))
    dots = (
        alt.Chart(_data(chunks))
        .mark_circle(size=22, opacity=0.65)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "region:N",
                scale=alt.Scale(domain=domain, range=[region_colour(i) for i in range(len(domain))]),
                legend=alt.Legend(
                    orient="bottom",
                    title="region (chunks)",
                    columns=2,
                    labelLimit=280,
                    symbolOpacity=1,
                    symbolSize=90,
                ),
            ),
            tooltip=[alt.Tooltip("region:N"), alt.Tooltip("source:N", title="file"), alt.Tooltip("chunk:N")],
        )
    )
    if select:
        dots = dots.add_params(alt.selection_point(name=select, fields=["chunk"], on="click"))
    layers: list[Any] = [dots]
    if density:  # under the sample: grey cells, darker where more chunks lie
        cells = (
            alt.Chart(_data(density))
            .mark_rect(opacity=0.5)
            .encode(
                x=x,
                x2="x2:Q",
                y=y,
                y2="y2:Q",
                color=alt.Color(
                    "chunks:Q",
                    scale=alt.Scale(scheme="greys", type="sqrt", domainMin=0),
                    legend=alt.Legend(orient="bottom", title="all chunks per cell", gradientLength=120),
                ),
                tooltip=[alt.Tooltip("chunks:Q", title="chunks in this cell", format=",")],
            )
        )
        layers.insert(0, cells)
    if centres:
        numbers = (
            alt.Chart(_data(centres))
            .mark_text(fontSize=13, fontWeight="bold", color="#111827", dy=-9)
            .encode(x=x, y=y, text="number:N", tooltip=[alt.Tooltip("region:N")])
        )
        layers.append(numbers)
    if selected:
        ring = (
            alt.Chart(_data(selected))
            .mark_point(shape="circle", size=260, strokeWidth=2.5, color="#111827", filled=False)
            .encode(x=x, y=y, tooltip=[alt.Tooltip("chunk:N", title="selected chunk")])
        )
        layers.append(ring)
    if queries:
        marks = (
            alt.Chart(_data(queries))
            .mark_point(filled=True, size=120, stroke="white", strokeWidth=1, opacity=1)
            .encode(
                x=x,
                y=y,
                color=alt.Color(
                    "outcome:N",
                    scale=alt.Scale(domain=list(OUTCOMES), range=[BLUE, AMBER, TIE_GREY]),
                    legend=alt.Legend(orient="top", direction="horizontal", title="queries", symbolSize=110),
                ),
                shape=alt.Shape(
                    "outcome:N",
                    scale=alt.Scale(domain=list(OUTCOMES), range=list(OUTCOME_SHAPES)),
                    legend=alt.Legend(
                        orient="top", direction="horizontal", title="queries", symbolSize=110
                    ),  # one legend with the colour's
                ),
                tooltip=[
                    alt.Tooltip("query:N"),
                    alt.Tooltip("outcome:N"),
                    alt.Tooltip("diff:Q", format="+.3f", title="nDCG@10 A − B"),
                    alt.Tooltip("overlap:Q", format=".2f", title="top-10 overlap"),
                ],
            )
        )
        layers.append(marks)
    return (
        alt.layer(*layers)
        .resolve_scale(color="independent", shape="independent")
        .resolve_legend(color="independent", shape="independent")
        .properties(width=width, height=height)
    )
