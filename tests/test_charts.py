"""core.report.charts as a reader sees it: one distinct colour per model (also for colour-blind readers), the same in
both frontier charts and in the Pareto lines, one outline per precision, hollow HNSW points, full hover text."""

from __future__ import annotations

import json

import numpy as np
import pytest
import vl_convert as vlc

from core.report import charts

MODELS = ("Qwen3-Embedding-4B", "bge-base-en-v1.5")
PRECISIONS = ("float32", "float16", "int8", "binary", "binary+rescore")
BYTES_PER_DIM = {"float32": 4, "float16": 2, "int8": 1, "binary": 1 / 8, "binary+rescore": 9 / 8}

# Machado, Oliveira & Fernandes (2009) full-severity dichromacy simulations, applied in linear sRGB.
CVD = {
    "normal vision": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]),
}  # fmt: skip
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])


def lab(hex_colour: str, vision: str) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour as seen with the given colour vision."""
    c = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = SRGB_TO_XYZ @ np.clip(CVD[vision] @ linear, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def hue(colour: str) -> float:
    L, a, b = lab(colour, "normal vision")
    return float(np.degrees(np.arctan2(b, a)) % 360)


def sweep_rows(*, judged: bool = True) -> list[dict]:
    rows = []
    for m, model in enumerate(MODELS):
        for d in (256, 768):
            for p in PRECISIONS:
                for index in ("exact", "hnsw") if p in ("float32", "float16") else ("exact",):
                    size = d * BYTES_PER_DIM[p]
                    rows.append(
                        {
                            "model": model,
                            "configuration": f"{d} {p} {index}",
                            "precision": p,
                            "index": index,
                            "bytes per vector": int(size),
                            "index bytes per vector": size * (1.3 if index == "hnsw" else 1.0),
                            "recall": 0.5 + d / 2000 + m / 50,
                            "nDCG@10": 0.4 + d / 5000 if judged else None,
                            "p50 ms": size / 1000,
                            "p95 ms": size / 800,
                            "build s": 1.5 if index == "hnsw" else None,
                            "pareto": p == "float32",
                        }
                    )
    return rows


def vega(chart) -> dict:
    """The compiled Vega spec, as the browser and the report's SVG renderer draw it."""
    return vlc.vegalite_to_vega(chart.to_dict())


def scale(spec: dict, name: str) -> dict:
    return next(s for s in spec["scales"] if s["name"] == name)


@pytest.fixture(scope="module")
def specs():
    rows = sweep_rows()
    return {
        "frontier": vega(charts.frontier(rows, y="recall", k=10)),
        "latency": vega(charts.recall_latency(rows, k=10)),
    }


def test_each_model_has_its_own_colour_and_the_same_one_in_both_charts(specs):
    colours = {}
    for name, spec in specs.items():
        colour = scale(spec, "color")
        assert colour["domain"] == list(MODELS), name
        colours[name] = dict(zip(colour["domain"], colour["range"], strict=True))
        assert len(set(colour["range"])) == len(MODELS), f"{name}: two models share a colour"
    assert colours["frontier"] == colours["latency"]


def test_the_two_model_colours_stay_apart_for_colour_blind_readers():
    rows = sweep_rows()
    a, b = (charts.model_scale(rows).to_dict()["range"][i] for i in range(2))
    # not two shades of one hue (the old theme's two blues were 26 degrees apart)
    assert abs((hue(a) - hue(b) + 180) % 360 - 180) >= 90, (a, b)
    for vision in CVD:
        delta_e = float(np.linalg.norm(lab(a, vision) - lab(b, vision)))
        assert delta_e >= 40, f"{a} and {b} are only {delta_e:.0f} Delta E apart with {vision}"


def test_pareto_line_of_each_model_is_drawn_in_that_models_colour(specs):
    spec = specs["frontier"]
    marks = [m for m in spec["marks"] if m["type"] in ("line", "group")]
    lines = [m for m in marks if m["type"] == "line"] or [
        inner for m in marks for inner in m.get("marks", []) if inner["type"] == "line"
    ]
    assert lines, "no Pareto line"
    stroke = lines[0]["encode"]["update"]["stroke"]
    assert stroke == {"scale": "color", "field": "model"}, stroke


def test_every_precision_has_its_own_shape_and_hnsw_points_are_hollow(specs):
    for spec in specs.values():
        shape = scale(spec, "shape")
        assert shape["domain"] == list(PRECISIONS)
        assert len(set(shape["range"])) == len(PRECISIONS)
        fill = scale(spec, "fillOpacity")
        assert dict(zip(fill["domain"], fill["range"], strict=True)) == {"exact": 1.0, "hnsw": 0.0}
        titles = [legend.get("title") for legend in spec["legends"]]
        assert charts.PRECISION_TITLE in titles, titles  # the legend says what hollow means


def test_hover_names_the_configuration_and_every_figure():
    fields = {
        t.to_dict()["field"]: t.to_dict().get("title") for t in charts.sweep_tooltip(sweep_rows(), k=10)
    }
    for field in ("model", "configuration", "bytes per vector", "index bytes per vector", "recall", "nDCG@10",
                  "p50 ms", "p95 ms", "build", "Pareto-optimal"):  # fmt: skip
        assert field in fields, field
    assert fields["recall"] == "recall@10"
    unjudged = {t.to_dict()["field"] for t in charts.sweep_tooltip(sweep_rows(judged=False), k=10)}
    assert "nDCG@10" not in unjudged  # no empty nDCG line without judgments


def test_hover_says_none_instead_of_null_for_a_missing_build_time():
    rows = sweep_rows()
    chart = charts.recall_latency(rows, k=10)
    spec = chart.to_dict()
    spec["data"]["values"] = [r for r in spec["data"]["values"] if r["index"] == "exact"][:1]  # no build time
    spec["encoding"]["text"] = {"field": "build", "type": "nominal"}  # draw the hover text to read it back
    spec["mark"] = {"type": "text"}
    svg = vlc.vegalite_to_svg(spec)
    assert "none (exact search)" in svg and "null" not in svg


def test_charts_render_offline_to_svg_with_missing_ndcg():
    rows = sweep_rows(judged=False)
    for chart in (charts.frontier(rows, k=10), charts.recall_latency(rows, k=10)):
        svg = vlc.vegalite_to_svg(json.loads(json.dumps(chart.to_dict())))
        assert svg.startswith("<svg") and MODELS[0] in svg and "float16" in svg
