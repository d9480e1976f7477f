"""The report's corpus-map section: a static SVG of at most 2,000 chunks (said in its caption), the region table
in HTML and Markdown, every label escaped (a region named by hostile document terms stays text)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from core.corpus_map import build_map
from core.ingest import ChunkOptions
from core.report import ReportData, build_report, render_html, render_markdown
from core.report.regions import sample_rows
from core.types import Chunk, Corpus

HOSTILE = "<script>alert(1)</script>"
WORDS = ("token", "ledger", "invoice", "backup", "latency", "consensus", "upload", "webhook")
N = 2_100  # more than the report draws


@pytest.fixture(scope="module")
def report_files() -> tuple[str, str, ReportData]:
    rng = np.random.default_rng(0)
    topic = rng.integers(0, len(WORDS), N)
    chunks = tuple(
        Chunk(
            id=f"doc{i % 40}.md#{i}",
            source=f"doc{i % 40}.md",
            text=f"{WORDS[t]} {WORDS[t]} notes {i}",
            lang="en",
        )
        for i, t in enumerate(topic)
    )
    corpus = Corpus(chunks, (), "1" * 64, "synthetic")
    centres = rng.normal(size=(len(WORDS), 16))
    va = (centres[topic] + 0.3 * rng.normal(size=(N, 16))).astype(np.float32)
    vb = (centres[topic] + 0.6 * rng.normal(size=(N, 16))).astype(np.float32)
    queries = {"q1": HOSTILE, "q2": "how do backups work"}
    run_a = {"q1": [c.id for c in chunks[:10]], "q2": [c.id for c in chunks[10:20]]}
    run_b = {"q1": [c.id for c in chunks[5:15]], "q2": [c.id for c in chunks[20:30]]}
    qrels = {"q1": {chunks[0].id: 2}, "q2": {chunks[25].id: 1}}
    cmap = build_map(corpus, va, vb, model_a="model-a", model_b="model-b", runs_a=run_a, runs_b=run_b,
                     qrels=qrels, queries=queries, method="pca")  # fmt: skip
    hostile = [dataclasses.replace(cmap.regions[0], label=HOSTILE), *cmap.regions[1:]]
    cmap = dataclasses.replace(cmap, regions=hostile)
    data = ReportData(corpus, "synthetic", ChunkOptions(), [], queries, "test queries", corpus_map=cmap)
    report = build_report(data)
    return render_html(report), render_markdown(report), data


def _section(html: str, key: str) -> str:
    found = re.search(rf'<section id="{key}">(.*?)</section>', html, re.S)
    assert found, f"no section {key}"
    return found.group(1)


def test_the_map_section_holds_an_svg_of_at_most_2000_chunks_and_the_region_table(report_files):
    html, md, data = report_files
    part = _section(html, "map")
    assert "<h2>6. Where on the corpus each model wins</h2>" in part
    assert part.count("<svg") == 1
    assert "2,000 of 2,100 chunks" in part  # the caption says the picture is a sample
    assert "<th>A wins</th>" in part or "A wins</th>" in part
    rows = re.findall(r"<tr>", _section(html, "map"))
    assert len(rows) >= len(data.corpus_map.regions)
    # the sections after it are renumbered, the footer names the section, not its number
    assert "<h2>7. Cost</h2>" in html and "<h2>9. Reproduce</h2>" in html
    assert "## 6\\. Where on the corpus each model wins" in md and "## 9\\. Reproduce" in md


def test_under_a_sample_grey_cells_count_every_chunk_where_it_lies(report_files):
    """Above the drawn sample, where the other chunks lie is shown by counts per cell: every chunk in exactly one
    cell (counts sum to the corpus), each cell holding the chunks whose layout point falls in it, and the chart
    draws one rect per non-empty cell (never one mark per chunk)."""
    from core.report import charts
    from core.report.regions import chart_rows, density_rows, layout_of

    _html, _md, data = report_files
    cmap = data.corpus_map
    cells = density_rows(cmap, space="A")
    assert sum(c["chunks"] for c in cells) == N and all(c["chunks"] > 0 for c in cells)
    xy = np.asarray(layout_of(cmap, "A").xy)
    busiest = max(cells, key=lambda c: c["chunks"])
    inside = (xy[:, 0] >= busiest["x"]) & (xy[:, 0] <= busiest["x2"]) & (xy[:, 1] >= busiest["y"])
    inside &= xy[:, 1] <= busiest["y2"]
    assert inside.sum() >= busiest["chunks"]  # (a point on a shared edge may sit in both bounds)
    dots, queries, _ = chart_rows(cmap, data.corpus, space="A", limit=500)
    spec = charts.corpus_map(dots, queries, density=cells).to_dict()
    rects = [layer for layer in spec["layer"] if (layer.get("mark") or {}).get("type") == "rect"]
    data_of = rects[0]["data"]
    drawn = data_of["values"] if "values" in data_of else spec["datasets"][data_of["name"]]
    assert len(rects) == 1 and len(drawn) == len(cells) < N
    assert "grey cells under them count all the chunks" in _section(
        _html, "map"
    )  # the report says what they are


def test_a_sample_keeps_the_chunks_queries_land_on_and_is_seeded():
    rows = sample_rows(10_000, 2_000, seed=0, keep=[9_999, 5])
    assert len(rows) == 2_000 and {5, 9_999} <= set(rows.tolist())
    assert (rows == sample_rows(10_000, 2_000, seed=0, keep=[9_999, 5])).all()
    assert len(sample_rows(1_500, 2_000)) == 1_500  # below the limit: every chunk


def test_a_hostile_region_label_and_query_stay_text(report_files):
    html, md, _ = report_files
    assert not re.search(r"<script", html, re.I), "a raw <script> tag in the report"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(html, "map")  # in the table (and the legend)
    assert "<script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md


def test_without_a_map_the_report_keeps_its_eight_sections():
    corpus = Corpus((Chunk(id="a.md#0", source="a.md", text="x", lang="en"),), (), "0" * 64, "t")
    report = build_report(ReportData(corpus, "t", ChunkOptions(), [], {}, ""))
    assert [s.key for s in report.sections] == [
        "answer", "corpus", "models", "quality", "differ", "cost", "latency", "reproduce",
    ]  # fmt: skip
    assert report.sections[-1].title == "8. Reproduce"


def test_a_region_of_many_files_never_reads_as_zero_or_all():
    """At 100k chunks a region's largest file held 0.6% of it and read 'file00683.md 0%'; 99.6% English read 100%."""
    from core.corpus_map.regions import Region
    from core.report.regions import make_up
    from core.text import format_share as share

    assert [share(1, 1000), share(1, 200), share(6, 1000), share(400, 1000), share(199, 200), share(5, 5)] == [
        "<1%", "<1%", "1%", "40%", ">99%", "100%",
    ]  # fmt: skip
    files = {f"part/file{i:05d}.md": 50 for i in range(316)}
    region = Region(1, "x", ("x",), tuple(f"c{i}" for i in range(15_800)), files, {"en": 15_740, "de": 60},
                    (0.0, 0.0))  # fmt: skip
    text = make_up(region)
    assert text == "file00000.md <1% · 315 more; English >99% · German <1%", text
