"""Chunks that moved most between two models' spaces: their k nearest neighbours differ most.

For each chunk, its k nearest other chunks by cosine in A's vectors and in B's; the score is the Jaccard
overlap of the two neighbour sets, |N_A ∩ N_B| / |N_A ∪ N_B| (0 = no neighbour in common, 1 = the same k).
Lowest first, ties in corpus order. Neighbours are exact (``core.search.exact_search``, blocked matrix products)
up to ``EXACT_MAX`` (20,000) chunks; above that they come from an hnswlib graph per model (M = 16,
ef_construction = 100, ef = max(4k, 64), seeded), approximate: recall@10 near 0.99 on such graphs, so a score
can be off by one neighbour in a hundred, and a multi-threaded build may differ slightly between runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import hnswlib
import numpy as np

from core.corpus_map.layout import MapError, unit_rows
from core.search import exact_search

EXACT_MAX = 20_000
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 100


def neighbours(vectors: np.ndarray, k: int, *, seed: int = 0) -> tuple[np.ndarray, bool]:
    """(rows of each chunk's k nearest other chunks by cosine, exact?) for unit-normalised ``vectors``."""
    n = vectors.shape[0]
    if n <= EXACT_MAX:
        idx, _ = exact_search(vectors, vectors, k, exclude=np.arange(n))
        return idx, True
    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    index.init_index(max_elements=n, M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, random_seed=seed)
    index.add_items(vectors, np.arange(n))
    index.set_ef(max(4 * (k + 1), 64))
    labels, _ = index.knn_query(vectors, k=k + 1)
    out = np.empty((n, k), dtype=np.int64)
    for i, row in enumerate(labels):
        others = row[row != i]
        out[i] = others[:k]
    return out, False


def moved_most(
    vectors_a: np.ndarray,
    vectors_b: np.ndarray,
    chunk_ids: Sequence[str],
    *,
    k: int = 10,
    top: int = 50,
) -> list[tuple[str, float]]:
    """The ``top`` chunks whose k-NN neighbourhoods differ most between A's and B's spaces: (chunk id, Jaccard).

    Exact up to 20,000 chunks, hnswlib above (see the module docstring).
    """
    n = len(chunk_ids)
    a = unit_rows(vectors_a, what="vectors of model A")
    b = unit_rows(vectors_b, what="vectors of model B")
    if a.shape[0] != n or b.shape[0] != n:
        raise MapError(
            f"moved_most: {a.shape[0]} vectors of A and {b.shape[0]} of B for {n} chunk ids; "
            "pass both models' vectors of the same corpus, one row per chunk in its order."
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise MapError(f"moved_most: k must be a whole number >= 1, got {k!r}.")
    if n < 2:
        return []
    k = min(k, n - 1)
    na, _ = neighbours(a, k)
    nb, _ = neighbours(b, k)
    na.sort(axis=1)
    nb.sort(axis=1)
    # |A ∩ B| per row: rows are sorted, so count matches of each A neighbour in B's row
    common = np.zeros(n, dtype=np.int64)
    for j in range(k):
        common += (nb == na[:, j : j + 1]).any(axis=1)
    jaccard = common / (2 * k - common)
    order = np.argsort(jaccard, kind="stable")[: max(0, top)]
    return [(chunk_ids[i], float(jaccard[i])) for i in order]
