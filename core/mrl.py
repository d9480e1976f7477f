"""Matryoshka truncation: recall@k at d dims against exact full-dimension retrieval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import SearchError

STANDARD_DIMS = (32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096)


def valid_dims(full_dim: int, mrl_dims: Sequence[int] = ()) -> list[int]:
    """Dimensions to offer on a slider: the model's trained MRL dims, else powers-of-two-ish steps up to full."""
    dims = [d for d in (mrl_dims or STANDARD_DIMS) if 0 < d < full_dim]
    return sorted(set(dims)) + [full_dim]


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores per row, best first (argpartition, then sort the k)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(part, order, axis=1)


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
    """
    full = docs.shape[1]
    d = full if dims is None else dims
    if not 1 <= d <= full:
        raise SearchError(f"dims must be between 1 and {full}, got {d}")
    dv, qv = docs[:, :d], queries[:, :d]
    scores = qv @ dv.T
    if d < full:
        norms = np.sqrt(np.einsum("ij,ij->i", dv, dv))
        scores /= np.maximum(norms, 1e-12)[None, :]
    if exclude is not None:
        scores[np.arange(len(exclude)), exclude] = -np.inf
    return _top_k(scores, min(k, docs.shape[0] - (exclude is not None)))


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
    """recall@k of exact search at each d vs exact search at full dimension (truncation alone, no ANN error)."""
    truth = exact_top_k(docs, queries, k=k, exclude=exclude)
    return {
        int(d): recall_at_k(truth, exact_top_k(docs, queries, k=k, dims=int(d), exclude=exclude), k=k)
        for d in dims
    }


def pseudo_queries(n_docs: int, *, n: int, seed: int = 0) -> np.ndarray:
    """Row indices of up to n chunks to use as pseudo-queries (their own row is excluded from results)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_docs, size=min(n, n_docs), replace=False))


def equal_cost_dims(other_dim: int, dims: Sequence[int]) -> int | None:
    """The largest offered d whose per-vector bytes do not exceed the other model's full-dim vectors."""
    fits = [d for d in dims if d <= other_dim]
    return max(fits) if fits else None
