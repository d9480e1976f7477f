"""``build_map``: both models' layouts, shared regions, queries placed, per-region figures, moved chunks: one call.

Which space defines the regions: neither model's alone. k-means runs on the concatenation of both models'
L2-normalised vectors, each half scaled by 1/sqrt(2), so the squared distance there is the mean of the two
models' cosine distances: a region is a group of chunks both models put together, and the same regions count
A's and B's wins. Each region's centroid is given in both layouts (``centroid`` in A's, ``centroid_b`` in B's).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from core.corpus_map.figures import QueryPoint, RegionFigures, place_queries, region_figures
from core.corpus_map.layout import Layout, MapError, cached_layout, layout, unit_rows
from core.corpus_map.moved import EXACT_MAX, moved_most
from core.corpus_map.regions import Region, region_of, regions
from core.evaluation import align_doc_ids, doc_key, ranked
from core.store import EmbeddingStore
from core.types import Corpus

FORMAT = "corpus-map-1"
RunLike = Mapping[str, Sequence[str] | Mapping[str, float]]  # chunk ids best first, or {chunk id: score}


@dataclass(frozen=True)
class CorpusMap:
    """Everything the Map page, the report section and ``python -m core.cli map`` show."""

    model_a: str
    model_b: str
    layout_a: Layout
    layout_b: Layout
    regions: list[Region]
    points: list[QueryPoint]
    figures: list[RegionFigures]
    moved: list[tuple[str, float]]  # (chunk id, Jaccard of its 10-NN in A and in B), lowest first
    seed: int = 0
    moved_exact: bool = True
    notes: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)  # layout_a, layout_b, regions, queries, moved

    def to_dict(self) -> dict:
        """JSON-ready dict (``format`` names the layout of this dict)."""
        return {
            "format": FORMAT,
            "model_a": self.model_a,
            "model_b": self.model_b,
            "seed": self.seed,
            "layout_a": self.layout_a.to_dict(),
            "layout_b": self.layout_b.to_dict(),
            "regions": [r.to_dict() for r in self.regions],
            "figures": [f.to_dict() for f in self.figures],
            "points": [p.to_dict() for p in self.points],
            "moved": [{"chunk_id": c, "jaccard": round(j, 6)} for c, j in self.moved],
            "moved_exact": self.moved_exact,
            "notes": list(self.notes),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def to_json(self) -> str:
        """The map as JSON text (UTF-8 kept readable)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, data: str | dict) -> CorpusMap:
        """A map written by ``to_json`` (text or the parsed dict); another format is a MapError naming it."""
        d = json.loads(data) if isinstance(data, str) else data
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise MapError(
                f"Not a corpus map of format {FORMAT!r} (got {got!r}): write it with `python -m core.cli map`."
            )
        return cls(
            model_a=d["model_a"], model_b=d["model_b"],
            layout_a=Layout.from_dict(d["layout_a"]), layout_b=Layout.from_dict(d["layout_b"]),
            regions=[Region.from_dict(r) for r in d["regions"]],
            points=[QueryPoint.from_dict(p) for p in d["points"]],
            figures=[RegionFigures.from_dict(f) for f in d["figures"]],
            moved=[(m["chunk_id"], float(m["jaccard"])) for m in d["moved"]],
            seed=int(d["seed"]), moved_exact=bool(d.get("moved_exact", True)), notes=tuple(d.get("notes", ())),
            seconds={k: float(v) for k, v in d.get("seconds", {}).items()},
        )  # fmt: skip

    def table(self) -> list[dict]:
        """One row per region: label, chunks, queries, A wins, B wins, ties, judged, mean diff and CI."""
        by_id = {f.region: f for f in self.figures}
        return [
            {"region": r.id, "label": r.label, "chunks": r.size, **_fig_row(by_id.get(r.id))}
            for r in self.regions
        ]


def _fig_row(f: RegionFigures | None) -> dict:
    if f is None:
        return {
            "queries": 0,
            "wins_a": 0,
            "wins_b": 0,
            "ties": 0,
            "judged": 0,
            "mean_diff": None,
            "ci_low": None,
            "ci_high": None,
        }
    return {k: v for k, v in f.to_dict().items() if k != "region"}


def joint_space(vectors_a: np.ndarray, vectors_b: np.ndarray) -> np.ndarray:
    """[a / sqrt(2), b / sqrt(2)] of the L2-normalised rows: the space the regions are computed in."""
    a, b = unit_rows(vectors_a, what="vectors of model A"), unit_rows(vectors_b, what="vectors of model B")
    if a.shape[0] != b.shape[0]:
        raise MapError(
            f"{a.shape[0]} vectors of A but {b.shape[0]} of B: embed the same corpus with both models."
        )
    return np.hstack([a, b]) / np.float32(math.sqrt(2.0))


def chunk_lists(run: RunLike | None) -> dict[str, list[str]]:
    """{qid: chunk ids best first} from a run of lists or of {chunk id: score} (trec_eval order)."""
    out: dict[str, list[str]] = {}
    for qid, hits in (run or {}).items():
        out[qid] = ranked(hits) if isinstance(hits, Mapping) else list(hits)
    return out


def build_map(
    corpus: Corpus,
    vectors_a: np.ndarray,
    vectors_b: np.ndarray,
    *,
    model_a: str,
    model_b: str,
    runs_a: RunLike | None = None,
    runs_b: RunLike | None = None,
    qrels: Mapping[str, Mapping[str, int]] | None = None,
    queries: Mapping[str, str] | None = None,
    seed: int = 0,
    store: EmbeddingStore | None = None,
    k: int | None = None,
    method: str = "auto",
    moved_top: int = 50,
) -> CorpusMap:
    """The corpus map of A vs B (rules: regions here, layouts in ``layout``, queries in ``figures``).

    ``runs_a`` / ``runs_b``: per-query chunk lists of each model ({qid: [chunk ids]} or {qid: {chunk id: score}},
    deep enough for 10 documents); without them the map has regions and moved chunks but no query points.
    ``queries``: {qid: text} (default: the runs' query ids, without text). ``qrels``: {qid: {doc id: grade}},
    naming chunks or files (mixed ones are lifted to files, ``core.evaluation.align_doc_ids``). ``store``: keep
    the layouts on disk (``cached_layout``). ``k``: the number of regions (None: ``choose_k``).
    """
    n = len(corpus.chunks)
    for name, v in ((model_a, vectors_a), (model_b, vectors_b)):
        if len(v) != n:
            raise MapError(
                f"{name}: {len(v)} vectors for the {n} chunks of corpus {corpus.name or '(unnamed)'}; embed this corpus with it again."
            )
    seconds: dict[str, float] = {}
    lay = {}
    for side, name, v in (("a", model_a, vectors_a), ("b", model_b, vectors_b)):
        t0 = time.perf_counter()
        lay[side] = (
            cached_layout(store, corpus, name, v, seed=seed, method=method)
            if store is not None
            else layout(v, seed=seed, method=method, model=name)
        )
        seconds[f"layout_{side}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    regs = regions(corpus, joint_space(vectors_a, vectors_b), k=k, seed=seed, xy=lay["a"].xy)
    index = {c.id: i for i, c in enumerate(corpus.chunks)}
    xy_b = lay["b"].xy.astype(np.float64)
    centres_b = [xy_b[[index[c] for c in r.chunk_ids]].mean(axis=0) for r in regs]
    regs = [replace(r, centroid_b=(float(c[0]), float(c[1]))) for r, c in zip(regs, centres_b, strict=True)]
    seconds["regions"] = time.perf_counter() - t0

    notes: list[str] = []
    points: list[QueryPoint] = []
    if runs_a is not None or runs_b is not None:
        t0 = time.perf_counter()
        la, lb = chunk_lists(runs_a), chunk_lists(runs_b)
        qtexts = dict(queries) if queries is not None else {q: "" for q in dict.fromkeys([*la, *lb])}
        doc_of, judged = None, None
        if qrels:
            aligned = align_doc_ids(corpus, {q: dict(d) for q, d in qrels.items()})
            key = doc_key(aligned.rule)
            doc_of, judged = {c.id: key(c) for c in corpus.chunks}, aligned.qrels
            if aligned.note:
                notes.append(aligned.note)
        points = place_queries(qtexts, la, lb, region_of(regs), qrels=judged, doc_of=doc_of)
        seconds["queries"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    moved = moved_most(vectors_a, vectors_b, [c.id for c in corpus.chunks], top=moved_top)
    seconds["moved"] = time.perf_counter() - t0
    return CorpusMap(
        model_a=model_a,
        model_b=model_b,
        layout_a=lay["a"],
        layout_b=lay["b"],
        regions=regs,
        points=points,
        figures=region_figures(points, regs, seed=seed),
        moved=moved,
        seed=seed,
        moved_exact=n <= EXACT_MAX,
        notes=tuple(notes),
        seconds=seconds,
    )
