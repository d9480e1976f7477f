"""The corpus map as the Map page and the report show it: chart rows (sampled), the per-region table, the section.

``core.corpus_map`` computes the map (layouts, regions, where each query lands, who wins where); this module turns
one ``CorpusMap`` into plain rows for ``core.report.charts.corpus_map`` and for tables, the same on the page and in
the report. Rows hold raw user text (file names, region labels made of document terms, queries): the page's table
widget shows it as text, and the report's renderers escape it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from core.corpus_map import CorpusMap, Layout, Region
from core.ingest import language_name
from core.text import format_share, number
from core.types import Corpus

Space = Literal["A", "B"]
Row = dict[str, Any]
PAGE_POINTS = 5_000  # chunks drawn on the page: above, a seeded random sample (one mark per chunk stays fast)
REPORT_POINTS = 2_000  # chunks drawn in the report's SVG (a file stays small)
DENSITY_BINS = (48, 32)  # cells across and down of the density drawn under a sample: where all the chunks lie
OUTCOME_WORDS = {"A": "A better", "B": "B better", "tie": "tie"}
REGION_COLUMNS = (
    "region", "chunks", "files and languages", "queries", "A wins", "B wins", "ties", "A − B", "95% CI", "judged",
)  # fmt: skip


def layout_of(cmap: CorpusMap, space: Space) -> Layout:
    """Model A's or model B's 2-D layout of the chunks."""
    return cmap.layout_a if space == "A" else cmap.layout_b


def region_names(cmap: CorpusMap) -> dict[int, str]:
    """Region id -> "3: jwt · token · auth": its number on the chart and its label."""
    return {r.id: f"{i}: {r.label}" for i, r in enumerate(cmap.regions, start=1)}


def sample_rows(n: int, limit: int, *, seed: int = 0, keep: Sequence[int] = ()) -> np.ndarray:
    """Row numbers to draw: all of them up to ``limit``, else a seeded random sample of ``limit`` that holds
    ``keep`` (the chunks queries land on and the selected one), in corpus order."""
    if n <= limit:
        return np.arange(n)
    kept = np.unique(np.asarray([k for k in keep if 0 <= k < n], dtype=np.int64))[:limit]
    rest = np.setdiff1d(np.arange(n), kept)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(rest, size=limit - len(kept), replace=False)
    return np.sort(np.concatenate([kept, drawn]))


def _row_of(corpus: Corpus) -> dict[str, int]:
    return {c.id: i for i, c in enumerate(corpus.chunks)}


def density_rows(cmap: CorpusMap, *, space: Space, bins: tuple[int, int] = DENSITY_BINS) -> list[Row]:
    """Every chunk of the layout counted in a grid of cells ({"x", "x2", "y", "y2", "chunks"}, empty cells left
    out): drawn under a sample, it shows where the chunks that are not drawn lie (one mark per cell, never per
    chunk)."""
    xy = np.asarray(layout_of(cmap, space).xy, dtype=float)
    if xy.size == 0:
        return []
    counts, xs, ys = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins)
    return [
        {
            "x": float(xs[i]),
            "x2": float(xs[i + 1]),
            "y": float(ys[j]),
            "y2": float(ys[j + 1]),
            "chunks": int(counts[i, j]),
        }
        for i, j in zip(*np.nonzero(counts), strict=True)
    ]


def chart_rows(
    cmap: CorpusMap,
    corpus: Corpus,
    *,
    space: Space,
    limit: int = PAGE_POINTS,
    selected: str | None = None,
    seed: int = 0,
) -> tuple[list[Row], list[Row], list[Row]]:
    """(chunk rows, query rows, selected-chunk rows) for ``charts.corpus_map`` in one model's space; above
    ``limit`` chunks a seeded sample that keeps every chunk a query lands on and the selected chunk."""
    xy = np.asarray(layout_of(cmap, space).xy, dtype=float)
    index = _row_of(corpus)
    names = region_names(cmap)
    region_at: dict[int, int] = {}
    for r in cmap.regions:
        for cid in r.chunk_ids:
            if cid in index:
                region_at[index[cid]] = r.id
    landed = [index[p.chunk_id] for p in cmap.points if p.chunk_id in index]
    chosen = [index[selected]] if selected in index else []
    rows = sample_rows(len(corpus.chunks), limit, seed=seed, keep=[*landed, *chosen])
    chunks = []
    for i in rows.tolist():
        c = corpus.chunks[i]
        rid = region_at.get(i)
        chunks.append(
            {
                "x": float(xy[i, 0]),
                "y": float(xy[i, 1]),
                "region": names.get(rid, "no region") if rid is not None else "no region",
                "chunk": c.id,
                "source": c.source,
            }
        )
    queries = []
    for p in cmap.points:
        i = index.get(p.chunk_id)
        if i is None:
            continue
        queries.append(
            {
                "x": float(xy[i, 0]),
                "y": float(xy[i, 1]),
                "outcome": OUTCOME_WORDS.get(p.outcome, str(p.outcome)),
                "query": p.query,
                "diff": p.diff,
                "overlap": p.overlap,
            }
        )
    ring = [{"x": float(xy[i, 0]), "y": float(xy[i, 1]), "chunk": corpus.chunks[i].id} for i in chosen]
    return chunks, queries, ring


CENTRE_SAMPLE = 400  # chunks of a region its centre is chosen among (a seeded sample above)


def centre_rows(cmap: CorpusMap, corpus: Corpus, *, space: Space, seed: int = 0) -> list[Row]:
    """Where each region's number is written: its medoid in this space (the chunk nearest, in sum, to the others
    of its region), so a region split across the layout is numbered where most of it lies, never in empty space
    between its parts (the mean can land there)."""
    xy = np.asarray(layout_of(cmap, space).xy, dtype=float)
    index = _row_of(corpus)
    names = region_names(cmap)
    rng = np.random.default_rng(seed)
    out = []
    for i, r in enumerate(cmap.regions, start=1):
        rows = np.array([index[c] for c in r.chunk_ids if c in index], dtype=np.int64)
        if not len(rows):
            continue
        if len(rows) > CENTRE_SAMPLE:
            rows = rng.choice(rows, CENTRE_SAMPLE, replace=False)
        pts = xy[rows]
        spread = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)).sum(axis=1)
        x, y = pts[int(np.argmin(spread))]
        out.append({"x": float(x), "y": float(y), "number": str(i), "region": names[r.id]})
    return out


def _shares(counts: Mapping[str, int], *, top: int, name: Any = str) -> str:
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [f"{name(k)} {format_share(v, total)}" for k, v in ranked[:top]]
    if len(ranked) > top:
        shown.append(f"{len(ranked) - top} more")
    return " · ".join(shown)


def _file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def make_up(region: Region) -> str:
    """'auth.md 40% · 2 more; English 70% · Chinese 30%': a region's largest file and its languages (shares of
    its chunks; short enough for three lines of a narrow table column)."""
    files = _shares(region.files, top=1, name=_file_name)
    langs = _shares(region.languages, top=2, name=lambda k: "?" if k == "unknown" else language_name(k))
    return "; ".join(p for p in (files, langs) if p)


def _finite(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def region_rows(cmap: CorpusMap) -> list[Row]:
    """One row per region (REGION_COLUMNS): its name, size, make-up, queries, wins of A and B, ties, the mean
    nDCG@10 difference A − B with its 95% CI and how many of its queries are judged (figures as text: U+2212)."""
    names = region_names(cmap)
    figures = {f.region: f for f in cmap.figures}
    out = []
    for r in cmap.regions:
        f = figures.get(r.id)
        diff = _finite(f.mean_diff) if f else None
        low, high = (_finite(f.ci_low), _finite(f.ci_high)) if f else (None, None)
        out.append(
            {
                "region": names[r.id],
                "chunks": len(r.chunk_ids),
                "files and languages": make_up(r),
                "queries": f.queries if f else 0,
                "A wins": f.wins_a if f else 0,
                "B wins": f.wins_b if f else 0,
                "ties": f.ties if f else 0,
                "A − B": number(diff, 3, sign=True) if diff is not None else "–",
                "95% CI": f"{number(low, 3, sign=True)} to {number(high, 3, sign=True)}"
                if low is not None and high is not None
                else "–",
                "judged": f.judged if f else 0,
            }
        )
    return out


def region_of_chunk(cmap: CorpusMap) -> dict[str, int]:
    """Chunk id -> the id of its region."""
    return {cid: r.id for r in cmap.regions for cid in r.chunk_ids}


def judged(cmap: CorpusMap) -> bool:
    """True when at least one query's outcome rests on judgments (nDCG@10), not on overlap alone."""
    return any(p.judged for p in cmap.points)


def how_made(cmap: CorpusMap, *, space: Space) -> str:
    """One sentence: what a dot is, how the layout was made (method, seed, seconds) and whose space the regions
    come from (both models': core.corpus_map clusters the two models' vectors side by side)."""
    lay = layout_of(cmap, space)
    took = cmap.seconds.get(f"layout_{space.lower()}", lay.seconds)
    cached = ", read back from the store" if lay.seconds > 0.2 and took < lay.seconds / 2 else ""
    return (
        f"Each dot is a chunk, placed in 2-D by {lay.method} from model {space}'s vectors ({lay.model}; seed "
        f"{lay.seed}; laid out in {lay.seconds:.1f} s{cached}). The {len(cmap.regions)} "
        "regions are k-means clusters of both models' vectors side by side (chunks both models put together), "
        "named by their most distinctive terms; they keep their number and colour in either space."
    )


def outcome_words(cmap: CorpusMap) -> str:
    """How a query's outcome was decided, in words."""
    if judged(cmap):
        return (
            "A query sits on the best relevant chunk of both models' lists (fused by reciprocal rank) and is "
            "coloured by who scores the higher nDCG@10 on its judgments (A's blue, B's orange, grey for a tie "
            "within 0.01); region figures are means over its judged queries with a bootstrap 95% CI (from 3)."
        )
    return (
        "No judgments for these queries, so no model is shown to be right: a query sits on the chunk both models "
        "rank highest (fused by reciprocal rank) and goes to the model whose top 10 holds more chunks of that "
        "chunk's region (a tie when equal): the one that stays on the query's topic. Judge queries on the Judge "
        "page for nDCG@10 per region."
    )
