"""Altair chart specs shared by the app's pages and the report (pure altair: no streamlit, no pandas needed).

Each builder takes plain rows (lists of dicts) and returns an ``alt.Chart`` / ``alt.LayerChart``; the pages show
it with ``st.altair_chart`` and the report renders the same spec to SVG offline (core.report_html). Rows carry
no user text except model names, which the renderers escape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import altair as alt

Row = dict[str, Any]
BLUE, AMBER = "#4f46e5", "#f59e0b"
REPORT_WIDTH = 600  # px: fits an A4 or Letter page with 14 mm margins at 96 dpi


def _clean(value: Any) -> Any:
    """NaN is not JSON: a missing figure (e.g. nDCG without judgments) travels as null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _data(rows: Sequence[Row]) -> alt.Data:
    return alt.Data(values=[{k: _clean(v) for k, v in r.items()} for r in rows])


def per_query_diff(rows: Sequence[Row], *, metric: str, width: int | str = REPORT_WIDTH) -> alt.Chart:
    """One bar per query: A − B on ``metric``, largest win of A first (rows: {"i", "diff"}; "i" = position)."""
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
            tooltip=["i:O", alt.Tooltip("diff:Q", format="+.3f")],
        )
        .properties(width=width, height=200)
    )


def mrl_curve(rows: Sequence[Row], *, k: int, width: int | str = REPORT_WIDTH) -> alt.Chart:
    """recall@k at d dims (exact at d) against exact full-dimension search, one line per model.

    rows: {"model", "dims", "recall"}.
    """
    dims = sorted({int(r["dims"]) for r in rows}) or [1]
    return (
        alt.Chart(_data(rows))
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "dims:Q",
                scale=alt.Scale(type="log", base=2, domain=[dims[0], dims[-1]], nice=False),
                axis=alt.Axis(values=dims),
                title="dimensions (log scale)",
            ),
            y=alt.Y("recall:Q", scale=alt.Scale(domain=[0, 1]), title=f"recall@{k} vs full-dim exact"),
            color=alt.Color("model:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["model:N", "dims:Q", alt.Tooltip("recall:Q", format=".3f")],
        )
        .properties(width=width, height=260)
    )


def frontier(
    rows: Sequence[Row],
    *,
    y: str = "recall",
    y_title: str = "recall",
    width: int | str = REPORT_WIDTH,
    height: int = 300,
    tooltip: Sequence[Any] | None = None,
) -> alt.LayerChart | alt.FacetChart:
    """Quality against index bytes per vector (log): colour per model, shape per precision, Pareto points joined.

    rows: {"model", "configuration", "precision", "index bytes per vector", y, "pareto"} (as ui.frontier.chart_rows).
    """
    data = _data(rows)
    x = alt.X("index bytes per vector:Q", scale=alt.Scale(type="log"), title="bytes per vector (log)")
    points = (
        alt.Chart(data)
        .mark_point(filled=True, size=70)
        .encode(
            x=x,
            y=alt.Y(f"{y}:Q", title=y_title),
            color=alt.Color("model:N", legend=alt.Legend(orient="bottom")),
            shape=alt.Shape("precision:N", legend=alt.Legend(orient="bottom")),
            tooltip=list(tooltip or ["model:N", "configuration:N", alt.Tooltip(f"{y}:Q", format=".4f")]),
        )
    )
    front = (
        alt.Chart(data)
        .transform_filter("datum.pareto")
        .mark_line(strokeDash=[4, 3])
        .encode(x=x, y=f"{y}:Q", color="model:N", order="index bytes per vector:Q")
    )
    return alt.layer(front, points).properties(width=width, height=height)


def recall_latency(
    rows: Sequence[Row],
    *,
    k: int,
    width: int | str = REPORT_WIDTH,
    height: int = 240,
    tooltip: Sequence[Any] | None = None,
) -> alt.Chart:
    """Recall against p95 single-query search latency (log), colour per model, shape per precision."""
    return (
        alt.Chart(_data(rows))
        .mark_point(filled=True, size=60)
        .encode(
            x=alt.X("p95 ms:Q", scale=alt.Scale(type="log"), title="p95 single-query search ms (log)"),
            y=alt.Y("recall:Q", title=f"recall@{k}"),
            color=alt.Color("model:N", legend=alt.Legend(orient="bottom")),
            shape=alt.Shape("precision:N", legend=alt.Legend(orient="bottom")),
            tooltip=list(tooltip or ["model:N", "configuration:N", alt.Tooltip("recall:Q", format=".4f"), "p95 ms:Q"]),
        )
        .properties(width=width, height=height)
    )
