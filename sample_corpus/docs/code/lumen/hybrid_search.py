"""Hybrid ranking: fuse keyword (BM25) and vector results, with Matryoshka truncation.

Lumen runs two retrievers for every query and merges them. Reciprocal rank fusion (RRF) only uses
ranks, so the very different score scales of BM25 and cosine similarity do not matter; linear fusion
min-max normalises each list first and then mixes them with ``vector_weight``. 向量通道支持把嵌入
截断到更少的维度（Matryoshka 表示），截断后必须重新做 L2 归一化，否则余弦相似度会失真。
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

RRF_K = 60


def truncate_and_normalise(vector: Sequence[float], dims: int) -> list[float]:
    """Keep the first ``dims`` components and rescale to unit length."""
    if dims <= 0 or dims > len(vector):
        raise ValueError(f"dims must be within 1..{len(vector)}, got {dims}")
    head = list(vector[:dims])
    norm = math.sqrt(sum(x * x for x in head))
    if norm == 0.0:
        raise ValueError("cannot normalise an all-zero vector")
    return [x / norm for x in head]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two equal-length vectors."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def rrf(rankings: Iterable[Sequence[str]], *, k: int = RRF_K, weights: Sequence[float] | None = None) -> dict[str, float]:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks starting at 1."""
    lists = list(rankings)
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError(f"got {len(weights)} weights for {len(lists)} rankings")
    scores: dict[str, float] = {}
    for weight, ranking in zip(weights, lists, strict=True):
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
    return dict(sorted(scores.items(), key=lambda kv: -kv[1]))


def min_max(scores: Mapping[str, float]) -> dict[str, float]:
    """Rescale scores to 0..1 (all equal -> all 1.0)."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi == lo:
        return {d: 1.0 for d in scores}
    return {d: (s - lo) / (hi - lo) for d, s in scores.items()}


def linear_fusion(keyword: Mapping[str, float], vector: Mapping[str, float], *, vector_weight: float = 0.6) -> dict[str, float]:
    """Mix normalised keyword and vector scores; documents missing from one list get 0 there."""
    if not 0.0 <= vector_weight <= 1.0:
        raise ValueError(f"vector_weight must be within 0..1, got {vector_weight}")
    kw, vec = min_max(keyword), min_max(vector)
    fused = {
        d: (1 - vector_weight) * kw.get(d, 0.0) + vector_weight * vec.get(d, 0.0)
        for d in set(kw) | set(vec)
    }
    return dict(sorted(fused.items(), key=lambda kv: -kv[1]))


def exact_top_k(query: Sequence[float], docs: Mapping[str, Sequence[float]], k: int) -> list[str]:
    """Brute-force top-k by cosine: the ground truth an ANN index (HNSW) is checked against."""
    ranked = sorted(docs, key=lambda d: -cosine(query, docs[d]))
    return ranked[:k]


def recall_at_k(approx: Sequence[str], exact: Sequence[str]) -> float:
    """|approx ∩ exact| / |exact|, e.g. to measure what truncation to 256 dims costs."""
    return len(set(approx) & set(exact)) / len(exact) if exact else 1.0


if __name__ == "__main__":
    bm25 = ["doc_jwt", "doc_keys", "doc_faq"]
    dense = ["doc_faq", "doc_jwt", "doc_sdk"]
    print(rrf([bm25, dense], weights=[0.4, 0.6]))
