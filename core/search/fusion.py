"""Fusion of two systems' ranked lists: reciprocal rank fusion and a convex combination of normalised scores.

- RRF (Cormack, Clarke & Büttcher 2009): ``score(d) = sum over lists of 1 / (k + rank(d))`` with k = 60 and
  1-based ranks; a document missing from a list gets nothing from it. Raw scores play no part, so two systems
  whose scores live on different scales (cosine vs BM25) fuse without tuning.
- Convex: each list's scores min-max normalised to 0..1 (a constant list becomes all 1), then
  ``w * a(d) + (1 - w) * b(d)``; a document missing from one list gets 0 from it (below that list's lowest).
  The weight ``w`` is on the first system; tune it with cross-validation on judged queries only
  (``core.evaluation.tune_weight``): a weight picked on the queries you report overstates the result.

Both fusions take plain ``{doc: score}`` dicts (any hashable doc key: chunk indices here, doc ids in
``core.evaluation``), as ranx and BEIR runs are shaped. Ties are broken by the key, so fused lists are
deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from core.errors import SearchError
from core.search.systems import RRF_K, System
from core.types import Corpus, Hit, SearchParams, SearchResult

K = TypeVar("K", bound=Hashable)

METHODS = ("rrf", "convex")
DEFAULT_DEPTH = 100  # each side's list is at least this deep before fusing


def rrf(lists: Sequence[Sequence[K]], *, k: int = RRF_K) -> dict[K, float]:
    """Reciprocal rank fusion of ranked lists (best first): ``{doc: sum 1 / (k + rank)}``, ranks from 1."""
    if k < 0:
        raise SearchError(f"RRF k={k} is invalid: use k >= 0 (60 is the published default).")
    fused: dict[K, float] = {}
    for ranking in lists:
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank)
    return fused


def minmax(scores: Mapping[K, float]) -> dict[K, float]:
    """Scores rescaled to 0..1 (lowest 0, highest 1); a list whose scores are all equal becomes all 1."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    span = hi - lo
    return {d: ((s - lo) / span if span > 0 else 1.0) for d, s in scores.items()}


def check_weight(weight: float) -> float:
    """The convex weight as a float in 0..1, or a SearchError that says so."""
    w = float(weight)
    if not 0.0 <= w <= 1.0:
        raise SearchError(
            f"Hybrid weight {weight!r} is outside 0..1: it is the share of the first system's normalised score "
            "(hybrid:X+Y@0.7 puts 0.7 on X and 0.3 on Y)."
        )
    return w


def convex(a: Mapping[K, float], b: Mapping[K, float], *, weight: float) -> dict[K, float]:
    """``weight * minmax(a) + (1 - weight) * minmax(b)`` over the union of both lists (missing: 0)."""
    w = check_weight(weight)
    na, nb = minmax(a), minmax(b)
    return {d: w * na.get(d, 0.0) + (1.0 - w) * nb.get(d, 0.0) for d in {*na, *nb}}


def fused_order(fused: Mapping[K, float]) -> list[tuple[K, float]]:
    """``(doc, score)`` best first; equal scores in key order (deterministic)."""
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse(
    a: Mapping[K, float],
    b: Mapping[K, float],
    *,
    method: str = "rrf",
    weight: float = 0.5,
    rrf_k: int = RRF_K,
) -> dict[K, float]:
    """Fuse two ``{doc: score}`` lists with ``method`` "rrf" (ranks only) or "convex" (``weight`` on ``a``)."""
    if method == "rrf":
        return rrf([[d for d, _ in fused_order(a)], [d for d, _ in fused_order(b)]], k=rrf_k)
    if method == "convex":
        return convex(a, b, weight=weight)
    raise SearchError(f"Fusion method {method!r} is unknown: use one of {list(METHODS)}.")


def _sum_ms(*extras: Mapping[str, object]) -> dict[str, float]:
    """Per-stage times ("rerank_ms", "fusion_ms", ...) of the sides, added up (a side may itself be a hybrid)."""
    out: dict[str, float] = {}
    for extra in extras:
        for key, value in extra.items():
            if key.endswith("_ms") and isinstance(value, int | float):
                out[key] = out.get(key, 0.0) + float(value)
    return out


class HybridSystem:
    """Two systems of one corpus fused: each asked for a deeper list (``max(k, depth)``), fused, cut to k.

    Times: ``embed_ms`` and ``search_ms`` are both sides' added up (they run one after the other), and
    ``extra["fusion_ms"]`` the fusion itself; memory and build time are both sides' too.
    """

    def __init__(
        self,
        a: System,
        b: System,
        *,
        method: str = "rrf",
        weight: float = 0.5,
        depth: int = DEFAULT_DEPTH,
        rrf_k: int = RRF_K,
    ) -> None:
        if method not in METHODS:
            raise SearchError(f"Fusion method {method!r} is unknown: use one of {list(METHODS)}.")
        if a.corpus.sha256 != b.corpus.sha256:
            raise SearchError(
                f"Cannot fuse {a.name} and {b.name}: they were built on different corpora "
                f"({a.corpus.name or a.corpus.sha256[:12]} vs {b.corpus.name or b.corpus.sha256[:12]}); "
                "build both on the same corpus."
            )
        if int(depth) < 1:
            raise SearchError(
                f"Hybrid depth={depth} is invalid: use an integer >= 1 (default {DEFAULT_DEPTH})."
            )
        self.a, self.b, self.method, self.depth, self.rrf_k = a, b, method, int(depth), int(rrf_k)
        self.weight = check_weight(weight) if method == "convex" else 0.5
        rrf(([],), k=self.rrf_k)  # validates k

    def __repr__(self) -> str:
        return f"HybridSystem({self.name!r}, depth={self.depth})"

    @property
    def name(self) -> str:
        """``hybrid:A+B`` (RRF) or ``hybrid:A+B@w`` (convex, weight w on A)."""
        tail = f"@{self.weight:g}" if self.method == "convex" else ""
        return f"hybrid:{self.a.name}+{self.b.name}{tail}"

    @property
    def kind(self) -> str:
        return "hybrid"

    @property
    def corpus(self) -> Corpus:
        return self.a.corpus

    @property
    def index_bytes(self) -> int:
        """Both sides' indexes (a hybrid keeps both)."""
        return int(self.a.index_bytes) + int(self.b.index_bytes)

    @property
    def build_seconds(self) -> float:
        return float(self.a.build_seconds) + float(self.b.build_seconds)

    def search_many(
        self, queries: Sequence[str], params: SearchParams = SearchParams()
    ) -> list[SearchResult]:
        """Both sides' top ``max(k, depth)`` for every query, fused per query; the top ``params.k`` returned."""
        queries = list(queries)
        if not queries:
            return []
        deep = replace(params, k=max(params.k, self.depth))
        side_a = self.a.search_many(queries, deep)
        side_b = self.b.search_many(queries, deep)
        chunks = self.corpus.chunks
        out = []
        for ra, rb in zip(side_a, side_b, strict=True):
            t0 = time.perf_counter()
            fused = fuse(
                {h.chunk_index: h.score for h in ra.hits},
                {h.chunk_index: h.score for h in rb.hits},
                method=self.method,
                weight=self.weight,
                rrf_k=self.rrf_k,
            )
            top = fused_order(fused)[: params.k]
            hits = tuple(
                Hit(rank=r, score=float(s), chunk_index=int(i), chunk_id=chunks[int(i)].id)
                for r, (i, s) in enumerate(top, start=1)
            )
            fusion_ms = (time.perf_counter() - t0) * 1000.0
            ms = _sum_ms(ra.extra, rb.extra)
            ms["fusion_ms"] = ms.get("fusion_ms", 0.0) + fusion_ms
            extra: dict[str, object] = {**ms, "depth": deep.k, "sides": (self.a.name, self.b.name)}
            out.append(
                SearchResult(
                    hits=hits,
                    embed_ms=ra.embed_ms + rb.embed_ms,
                    search_ms=ra.search_ms + rb.search_ms,
                    dims=ra.dims,
                    exact=ra.exact,
                    extra=extra,
                )
            )
        return out
