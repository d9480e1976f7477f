"""Matryoshka truncation: recall@k at d dims against exact full-dimension retrieval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.dims import MRL_STEPS
from core.errors import SearchError


def valid_dims(full_dim: int, mrl_dims: Sequence[int] = ()) -> list[int]:
    """Dimensions to offer on a slider: the model's trained MRL dims, else powers-of-two-ish steps up to full."""
    dims = [d for d in (mrl_dims or MRL_STEPS) if 0 < d < full_dim]
    return sorted(set(dims)) + [full_dim]


_BLOCK_FLOATS = 1 << 24  # scores per query block (64 MiB): bounds memory; the blocks of columns reuse it


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores per row, best first, ties by lower index (value partition, no argsort)."""
    m, n = scores.shape
    k = min(k, n)
    if k <= 0 or m == 0:
        return np.empty((m, max(k, 0)), dtype=np.int64)
    if k == n:
        cols = np.broadcast_to(np.arange(n), (m, n))
        return np.take_along_axis(cols, np.lexsort((cols, -scores), axis=1), axis=1)
    kth = _kth_lower_bound(scores, k)
    flat = np.flatnonzero(scores >= kth[:, None])  # 2-D np.nonzero is ~50x slower than flatnonzero
    rows, cols = np.divmod(flat, n)
    counts = np.bincount(rows, minlength=m)
    if counts.min() < k:
        raise SearchError("scores contain NaN: the vectors hold NaN values; re-embed or clean them")
    order = np.lexsort((cols, -scores[rows, cols], rows))  # by row, score descending, then position
    starts = np.cumsum(counts) - counts
    return cols[order][starts[:, None] + np.arange(k)]


def _kth_lower_bound(scores: np.ndarray, k: int, *, group: int = 64) -> np.ndarray:
    """Per row, a value <= the k-th largest score: the k-th largest of the maxima of groups of columns.

    k groups each hold an element >= that value, so every top-k element passes it; few others do. One max pass
    plus a partition of n/group maxima: several times cheaper than partitioning the whole row.
    """
    m, n = scores.shape
    whole = n - n % group
    if whole // group < 4 * k:
        return np.partition(scores, n - k, axis=1)[:, n - k]
    maxima = scores[:, :whole].reshape(m, whole // group, group).max(axis=2)
    if whole < n:
        maxima = np.concatenate([maxima, scores[:, whole:].max(axis=1, keepdims=True)], axis=1)
    g = maxima.shape[1]
    return np.partition(maxima, g - k, axis=1)[:, g - k]


def _check_dims(d: int, full: int) -> int:
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or not 1 <= d <= full:
        raise SearchError(f"dims must be between 1 and {full}, got {d!r}")
    return int(d)


def _query_step(n_docs: int) -> int:
    return max(1, _BLOCK_FLOATS // max(n_docs, 1))


def _excluded(scores: np.ndarray, exclude: np.ndarray | None, start: int) -> np.ndarray:
    if exclude is not None:
        scores[np.arange(scores.shape[0]), exclude[start : start + scores.shape[0]]] = -np.inf
    return scores


def exact_top_k(
    docs: np.ndarray,
    queries: np.ndarray,
    *,
    k: int,
    dims: int | None = None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Exact cosine top-k at ``dims`` using slice views (no copy of the corpus); rows of ``exclude`` are skipped.

    Cosine at d dims = (q_d . x_d) / (|q_d| |x_d|); |q_d| does not change a ranking, so only doc norms are needed.
    Ties are broken by the lower row index.
    """
    full = docs.shape[1]
    d = _check_dims(full if dims is None else dims, full)
    dv, qv = docs[:, :d], queries[:, :d]
    kk = min(k, docs.shape[0] - (exclude is not None))
    norms = None
    if d < full:
        norms = np.maximum(np.sqrt(np.einsum("ij,ij->i", dv, dv)), 1e-12)
    out = np.empty((qv.shape[0], max(kk, 0)), dtype=np.int64)
    step = _query_step(docs.shape[0])
    for s in range(0, qv.shape[0], step):
        scores = qv[s : s + step] @ dv.T
        if norms is not None:
            scores /= norms[None, :]
        out[s : s + step] = _top_k(_excluded(scores, exclude, s), kk)
    return out


def recall_at_k(truth: np.ndarray, got: np.ndarray, *, k: int) -> float:
    """Mean over queries of |top-k(got) ∩ top-k(truth)| / k (k clamped to what the truth holds)."""
    if truth.shape[0] == 0:
        return float("nan")
    kk = min(k, truth.shape[1])
    hits = [len(set(t[:kk].tolist()) & set(g[:kk].tolist())) for t, g in zip(truth, got, strict=True)]
    return float(np.mean(hits) / kk)


def truncation_curve(
    docs: np.ndarray,
    queries: np.ndarray,
    *,
    dims: Sequence[int],
    k: int = 10,
    exclude: np.ndarray | None = None,
) -> dict[int, float]:
    """recall@k of exact search at each d vs exact search at full dimension (truncation alone, no ANN error).

    One pass over the dimensions: the scores at d are the scores at the previous d plus the next column block
    (so all dims together cost one full-dimension matmul); queries go in blocks to bound memory.
    """
    full = docs.shape[1]
    want = sorted({_check_dims(d, full) for d in dims})
    stops = want if want and want[-1] == full else [*want, full]
    kk = min(k, docs.shape[0] - (exclude is not None))
    n_q = queries.shape[0]
    norms: dict[int, np.ndarray] = {}
    sq, prev = np.zeros(docs.shape[0], dtype=np.float64), 0
    for d in stops[:-1]:
        block = docs[:, prev:d]
        sq += np.einsum("ij,ij->i", block, block)
        norms[d], prev = np.maximum(np.sqrt(sq), 1e-12).astype(docs.dtype), d
    truth = np.empty((n_q, max(kk, 0)), dtype=np.int64)
    got = {d: np.empty_like(truth) for d in want}
    step = _query_step(docs.shape[0])
    for s in range(0, n_q, step):
        q = queries[s : s + step]
        acc, prev = None, 0
        for d in stops:
            part = q[:, prev:d] @ docs[:, prev:d].T
            if acc is None:
                acc = part
            else:
                acc += part
            prev = d
            if d < full:
                got[d][s : s + step] = _top_k(_excluded(acc / norms[d][None, :], exclude, s), kk)
            else:  # full dimension: the ground truth (unit vectors: no normalisation)
                truth[s : s + step] = _top_k(_excluded(acc, exclude, s), kk)
                if full in got:
                    got[full][s : s + step] = truth[s : s + step]
    recalls = {d: recall_at_k(truth, got[d], k=k) for d in want}
    return {int(d): recalls[int(d)] for d in dims}


def pseudo_queries(n_docs: int, *, n: int, seed: int = 0) -> np.ndarray:
    """Row indices of up to n chunks to use as pseudo-queries (their own row is excluded from results)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_docs, size=min(n, n_docs), replace=False))


def equal_cost_dims(other_dim: int, dims: Sequence[int]) -> int | None:
    """The largest offered d whose per-vector bytes do not exceed the other model's full-dim vectors."""
    fits = [d for d in dims if d <= other_dim]
    return max(fits) if fits else None
