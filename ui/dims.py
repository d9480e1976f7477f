"""Matryoshka explorer computations for the Dimensions page, memoised by content so slider moves are cheap."""

from __future__ import annotations

import hashlib
import time

import numpy as np

from core.engine import ModelIndex
from core.mrl import exact_top_k, pseudo_queries, recall_at_k, valid_dims
from ui import compare, resources


def dims_for(mi: ModelIndex) -> list[int]:
    """Slider stops: the model's MRL dims, else standard steps up to its full dimension."""
    return valid_dims(mi.dim, mi.spec.mrl_dims)


def query_set(
    mi: ModelIndex, slot: str, kind: str, texts: list[str], n_pseudo: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Full-dim query vectors for the chosen set, and rows to exclude (pseudo-queries exclude themselves)."""
    if kind == "chunks as pseudo-queries":
        rows = pseudo_queries(len(mi.corpus.chunks), n=n_pseudo)
        return mi.vectors[rows], rows
    key = ("qvecs", mi.vectors_sha, mi.embedder.cache_key, tuple(texts), compare.instruction(slot))
    return resources.memo(key, lambda: mi.embed_queries(texts, instruction=compare.instruction(slot))), None


def _digest(arr: np.ndarray) -> str:
    return hashlib.sha1(arr.tobytes()).hexdigest()


def _truth(mi: ModelIndex, qvecs: np.ndarray, exclude: np.ndarray | None, k: int) -> np.ndarray:
    key = ("truth", mi.vectors_sha, _digest(qvecs), k)
    return resources.memo(key, lambda: exact_top_k(mi.vectors, qvecs, k=k, exclude=exclude))


def point(mi: ModelIndex, qvecs: np.ndarray, exclude: np.ndarray | None, *, d: int, k: int) -> dict:
    """Recall@k at d dims: truncation alone (exact at d) and end to end (HNSW at d), both vs exact full-dim."""
    truth = _truth(mi, qvecs, exclude, k)
    t0 = time.perf_counter()
    exact = exact_top_k(mi.vectors, qvecs, k=k, dims=d, exclude=exclude)
    exact_ms = (time.perf_counter() - t0) * 1e3 / max(1, len(qvecs))
    index = mi.index(d)
    k_ann = k + (exclude is not None)
    t0 = time.perf_counter()
    idx, _ = mi.search_vectors(qvecs, k=k_ann, dims=d)
    hnsw_ms = (time.perf_counter() - t0) * 1e3 / max(1, len(qvecs))
    if exclude is not None:
        idx = np.array(
            [[j for j in row if j != ex][:k] for row, ex in zip(idx.tolist(), exclude.tolist(), strict=True)]
        )
    return {
        "dims": d,
        "truncation recall": recall_at_k(truth, exact, k=k),
        "end-to-end recall": recall_at_k(truth, idx, k=k),
        "exact ms/query": exact_ms,
        "hnsw ms/query": hnsw_ms,
        "index MB": index.nbytes / 2**20,
        "vector MB": len(mi.corpus.chunks) * d * 4 / 2**20,
    }


def truncation_curve(mi: ModelIndex, qvecs: np.ndarray, exclude: np.ndarray | None, *, k: int) -> list[dict]:
    """Exact-at-d recall and search time at every slider stop (no HNSW builds: cheap)."""
    key = ("curve", mi.vectors_sha, _digest(qvecs), k)

    def compute() -> list[dict]:
        truth = _truth(mi, qvecs, exclude, k)
        rows = []
        for d in dims_for(mi):
            t0 = time.perf_counter()
            got = exact_top_k(mi.vectors, qvecs, k=k, dims=d, exclude=exclude)
            ms = (time.perf_counter() - t0) * 1e3 / max(1, len(qvecs))
            rows.append(
                {
                    "dims": d,
                    "recall": recall_at_k(truth, got, k=k),
                    "exact ms/query": ms,
                    "vector MB": len(mi.corpus.chunks) * d * 4 / 2**20,
                }
            )
        return rows

    return resources.memo(key, compute)


def end_to_end_curve(mi: ModelIndex, qvecs: np.ndarray, exclude: np.ndarray | None, *, k: int) -> list[dict]:
    """HNSW-at-d recall, index size and latency at every stop (builds the per-d indexes once, cached)."""
    key = ("e2e", mi.vectors_sha, _digest(qvecs), k, mi.params)
    return resources.memo(key, lambda: [point(mi, qvecs, exclude, d=d, k=k) for d in dims_for(mi)])
