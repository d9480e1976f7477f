"""The dimension axis: recall@k at d dims against exact full-dimension retrieval, per reduction (core.dims).

A Matryoshka-trained model's curve is its prefix truncation; any other model has two curves, post-hoc truncation
(the same prefix cut of its stored vectors) and PCA rotation (the prefix cut of its PCA-rotated vectors,
core.search.rotation). Both are measured against the model's own exact full-dimension top-k.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.dims import PCA, PREFIX, check_dims, check_reduction, offered_dims
from core.search.engine import ModelIndex
from core.search.index import query_block_rows, rank_block


def common_dims(a: tuple[int, Sequence[int]], b: tuple[int, Sequence[int]]) -> list[int]:
    """Truncation stops valid for both models, each given as (full dim, trained MRL dims); ascending.

    A stop is each model's own valid_dims; a stop that is the full dimension of both is left out (it is
    "full"), so two 384-dim models get [32, 64, 128, 256] and never 512 or 1024.
    """
    both = set(offered_dims(a[0], a[1])) & set(offered_dims(b[0], b[1]))
    return sorted(d for d in both if not d == a[0] == b[0])


def recall_at_k(truth: np.ndarray, got: np.ndarray, *, k: int) -> float:
    """Mean over queries of |top-k(got) ∩ top-k(truth)| / k (k clamped to what the truth holds)."""
    if truth.shape[0] == 0:
        return float("nan")
    kk = min(k, truth.shape[1])
    hits = [len(set(t[:kk].tolist()) & set(g[:kk].tolist())) for t, g in zip(truth, got, strict=True)]
    return float(np.mean(hits) / kk)


@dataclass(frozen=True, eq=False)
class TruncationCurve:
    """Exact search at each d against exact search at full dimension: recall@k, time, and the ground truth."""

    k: int
    recall: dict[int, float]  # recall@k at each d, in the order asked
    ms_per_query: dict[int, float]  # scores over the first d columns + the top-k at d, per query
    truth: np.ndarray  # (n_queries, k) rows of the exact full-dimension top-k (exclusions applied)


def _doc_norms(docs: np.ndarray, stops: list[int]) -> dict[int, np.ndarray]:
    """|x_d| of every row at every stop d below full, accumulated one column block at a time."""
    norms: dict[int, np.ndarray] = {}
    sq, prev = np.zeros(docs.shape[0], dtype=np.float64), 0
    for d in stops[:-1]:
        block = docs[:, prev:d]
        sq += np.einsum("ij,ij->i", block, block)
        norms[d], prev = np.maximum(np.sqrt(sq), 1e-12).astype(docs.dtype), d
    return norms


def truncation_curve(
    docs: np.ndarray,
    queries: np.ndarray,
    *,
    dims: Sequence[int],
    k: int = 10,
    exclude: np.ndarray | None = None,
) -> TruncationCurve:
    """recall@k of exact search at each d vs exact search at full dimension (truncation alone, no ANN error).

    Cosine at d dims = (q_d . x_d) / (|q_d| |x_d|); |q_d| does not change a ranking, so only doc norms are
    needed. One pass over the dimensions: the scores at d are the scores at the previous d plus the next column
    block (so all dims together cost one full-dimension matmul); queries go in blocks to bound memory. Rows of
    ``exclude`` (one per query) are never returned; ties go to the lower row.
    """
    full = docs.shape[1]
    want = sorted({check_dims(d, full) for d in dims})
    stops = want if want and want[-1] == full else [*want, full]
    kk = min(k, docs.shape[0] - (exclude is not None))
    n_q = queries.shape[0]
    norms = _doc_norms(docs, stops)
    truth = np.empty((n_q, max(kk, 0)), dtype=np.int64)
    got = {d: np.empty_like(truth) for d in stops}
    seconds = dict.fromkeys(stops, 0.0)
    step = query_block_rows(docs.shape[0])
    for s in range(0, n_q, step):
        q = queries[s : s + step]
        acc: np.ndarray | None = None
        prev, matmul = 0, 0.0
        for d in stops:
            t0 = time.perf_counter()
            part = q[:, prev:d] @ docs[:, prev:d].T
            acc = part if acc is None else np.add(acc, part, out=acc)
            t1 = time.perf_counter()
            # full dimension, the last stop: unit vectors need no normalisation (ranking may mask acc in place)
            scores = acc / norms[d][None, :] if d < full else acc
            got[d][s : s + step] = rank_block(scores, kk, exclude=exclude, start=s)
            matmul, prev = matmul + t1 - t0, d
            seconds[d] += matmul + time.perf_counter() - t1
    truth[:] = got[full]
    per_query = 1e3 / max(n_q, 1)
    return TruncationCurve(
        k=k,
        recall={int(d): recall_at_k(truth, got[int(d)], k=k) for d in dims},
        ms_per_query={int(d): seconds[int(d)] * per_query for d in dims},
        truth=truth,
    )


def reduction_curve(
    mi: ModelIndex,
    queries: np.ndarray,
    *,
    reduction: str = PREFIX,
    dims: Sequence[int] | None = None,
    k: int = 10,
    exclude: np.ndarray | None = None,
) -> TruncationCurve:
    """``truncation_curve`` of a model's stored vectors by one of its reductions (default dims: every offered stop).

    "prefix": the stored vectors and full-dim ``queries`` as they are; "pca": both rotated by the corpus's PCA
    rotation first (fitted once and stored, ``ModelIndex.rotation``). The rotation leaves full-dimension scores
    unchanged, so the full-dimension truth is the model's own (up to float32 rounding of exact ties).
    """
    stops = list(mi.offered_dims if dims is None else dims)
    if check_reduction(reduction, allowed=mi.reductions, what=mi.spec.name) == PREFIX:
        return truncation_curve(mi.vectors, queries, dims=stops, k=k, exclude=exclude)
    return truncation_curve(mi.vectors_at(mi.dim, PCA), mi.rotate(queries), dims=stops, k=k, exclude=exclude)


def drop_excluded(idx: np.ndarray, exclude: np.ndarray | None, *, k: int) -> np.ndarray:
    """Each row of an approximate search (asked for k + 1) without its query's own row, cut to k."""
    if exclude is None:
        return idx[:, :k]
    rows = [[j for j in row if j != ex][:k] for row, ex in zip(idx.tolist(), exclude.tolist(), strict=True)]
    return np.array(rows, dtype=np.int64) if rows else np.empty((0, k), dtype=np.int64)


def pseudo_queries(n_docs: int, *, n: int, seed: int = 0) -> np.ndarray:
    """Row indices of up to n chunks to use as pseudo-queries (their own row is excluded from results)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_docs, size=min(n, n_docs), replace=False))


def equal_cost_dims(other_dim: int, dims: Sequence[int]) -> int | None:
    """The largest offered d whose per-vector bytes do not exceed the other model's full-dim vectors."""
    fits = [d for d in dims if d <= other_dim]
    return max(fits) if fits else None
