"""Dimension explorer for the Dimensions page: memoised core.search.matryoshka.reduction_curve calls, one per
reduction of a model (core.dims), and rows for the charts."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.dims import PREFIX, reduction_label
from core.search import (
    ModelIndex,
    TruncationCurve,
    drop_excluded,
    pseudo_queries,
    recall_at_k,
    reduction_curve,
)
from core.types import SearchParams
from ui import compare, resources

Row = dict[str, Any]


def query_set(
    mi: ModelIndex, slot: str, kind: str, texts: list[str], n_pseudo: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Full-dim query vectors for the chosen set, and rows to exclude (pseudo-queries exclude themselves)."""
    if kind == "pseudo":
        rows = pseudo_queries(len(mi.corpus.chunks), n=n_pseudo)
        return mi.vectors[rows], rows
    return resources.query_vectors(mi, texts, instruction=compare.instruction(slot)), None


def _digest(*arrays: np.ndarray | None) -> str:
    h = hashlib.sha1()
    for a in arrays:
        h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def curve(
    mi: ModelIndex,
    qvecs: np.ndarray,
    exclude: np.ndarray | None,
    *,
    k: int,
    dims: Sequence[int] | None = None,
    reduction: str = PREFIX,
) -> TruncationCurve:
    """core.search.matryoshka.reduction_curve at ``dims`` (default: every slider stop) by ``reduction``, computed
    once per content, k and reduction."""
    stops = tuple(mi.offered_dims if dims is None else dims)
    key = ("curve", mi.vectors_sha, _digest(qvecs, exclude), k, stops, reduction)
    return resources.memo(
        key,
        lambda: reduction_curve(mi, qvecs, reduction=reduction, dims=stops, k=k, exclude=exclude),
    )


def label(mi: ModelIndex, reduction: str) -> str:
    """The words for one of a model's reductions: "Matryoshka-trained", "post-hoc truncation", "PCA rotation"."""
    return reduction_label(reduction, trained=bool(mi.spec.mrl_dims))


def _vector_mb(mi: ModelIndex, d: int) -> float:
    return len(mi.corpus.chunks) * d * 4 / 2**20


def truncation_rows(
    mi: ModelIndex, qvecs: np.ndarray, exclude: np.ndarray | None, *, k: int, reduction: str = PREFIX
) -> list[Row]:
    """Rows of one reduction's curve: exact-at-d recall and search time at every slider stop (no HNSW builds)."""
    c = curve(mi, qvecs, exclude, k=k, reduction=reduction)
    how = label(mi, reduction)
    return [
        {
            "dims": d,
            "reduction": how,
            "recall": r,
            "exact ms/query": c.ms_per_query[d],
            "vector MB": _vector_mb(mi, d),
        }
        for d, r in c.recall.items()
    ]


def reduction_rows(mi: ModelIndex, qvecs: np.ndarray, exclude: np.ndarray | None, *, k: int) -> list[Row]:
    """``truncation_rows`` of every reduction of the model (one curve each), in core.dims' order."""
    return [row for r in mi.reductions for row in truncation_rows(mi, qvecs, exclude, k=k, reduction=r.id)]


def point(
    mi: ModelIndex, qvecs: np.ndarray, exclude: np.ndarray | None, *, d: int, k: int, reduction: str = PREFIX
) -> Row:
    """Recall@k at d dims by ``reduction``: alone (exact at d) and end to end (HNSW at d), both vs exact full-dim."""
    c = curve(mi, qvecs, exclude, k=k, reduction=reduction)
    if d not in c.recall:  # not a slider stop: a curve of its own
        c = curve(mi, qvecs, exclude, k=k, dims=(d,), reduction=reduction)
    index = mi.index(d, reduction=reduction)
    t0 = time.perf_counter()
    idx, _ = mi.search_vectors(qvecs, SearchParams(k=k + (exclude is not None), dims=d, reduction=reduction))
    idx = drop_excluded(idx, exclude, k=k)
    hnsw_ms = (time.perf_counter() - t0) * 1e3 / max(1, len(qvecs))
    return {
        "dims": d,
        "reduction": label(mi, reduction),
        "truncation recall": c.recall[d],
        "end-to-end recall": recall_at_k(c.truth, idx, k=k),
        "exact ms/query": c.ms_per_query[d],
        "hnsw ms/query": hnsw_ms,
        "index MB": index.nbytes / 2**20,
        "vector MB": _vector_mb(mi, d),
    }


def end_to_end_rows(
    mi: ModelIndex, qvecs: np.ndarray, exclude: np.ndarray | None, *, k: int, reduction: str = PREFIX
) -> list[Row]:
    """HNSW-at-d recall, index size and latency at every stop by ``reduction`` (builds the per-d indexes once)."""
    key = ("e2e", mi.vectors_sha, _digest(qvecs, exclude), k, mi.params, reduction)
    return resources.memo(
        key, lambda: [point(mi, qvecs, exclude, d=d, k=k, reduction=reduction) for d in mi.offered_dims]
    )
