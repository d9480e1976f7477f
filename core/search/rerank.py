"""Two-stage retrieval: the top ``depth`` of a first system re-scored by a cross-encoder (``rerank:X+R``).

The reranker is anything with a ``name`` and ``score(query, documents) -> scores`` (higher = more relevant):
the local cross-encoders and served rerankers of ``core.models`` answer it. It reads the chunk text as it
was embedded (``Chunk.embed_text``: title + text for BEIR documents). A reranker costs time per query, not
memory at rest: ``extra["rerank_ms"]`` says how much, beside the first stage's embed and search times.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from core.errors import SearchError
from core.search.systems import RERANK_DEPTH as DEFAULT_DEPTH
from core.search.systems import System
from core.types import Corpus, Hit, SearchParams, SearchResult


@runtime_checkable
class Reranker(Protocol):
    """A cross-encoder: one relevance score per (query, document) pair, higher is better."""

    @property
    def name(self) -> str: ...

    def score(self, query: str, documents: Sequence[str]) -> Sequence[float]: ...


class RerankSystem:
    """``first``'s top ``depth`` chunks re-scored by ``reranker`` and re-ordered; a list deeper than ``depth``
    keeps ``first``'s order (and scores) below the re-scored part."""

    def __init__(self, first: System, reranker: Reranker, *, depth: int = DEFAULT_DEPTH) -> None:
        if int(depth) < 1:
            raise SearchError(
                f"Rerank depth={depth} is invalid: use an integer >= 1 (default {DEFAULT_DEPTH})."
            )
        self.first, self.reranker, self.depth = first, reranker, int(depth)

    def __repr__(self) -> str:
        return f"RerankSystem({self.name!r})"

    @property
    def name(self) -> str:
        """``rerank:X+R`` (``rerank:X+R@N`` when the depth is not the default 50)."""
        tail = f"@{self.depth}" if self.depth != DEFAULT_DEPTH else ""
        return f"rerank:{self.first.name}+{self.reranker.name}{tail}"

    @property
    def kind(self) -> str:
        return "rerank"

    @property
    def corpus(self) -> Corpus:
        return self.first.corpus

    @property
    def index_bytes(self) -> int:
        """The first stage's index (a cross-encoder stores nothing per chunk)."""
        return int(self.first.index_bytes)

    @property
    def build_seconds(self) -> float:
        return float(self.first.build_seconds)

    def _scores(self, query: str, texts: list[str]) -> list[float]:
        scores = [float(s) for s in self.reranker.score(query, texts)]
        if len(scores) != len(texts):
            raise SearchError(
                f"Reranker {self.reranker.name} returned {len(scores)} scores for {len(texts)} documents: "
                "check the reranker (a served one may cut its answer with top_n)."
            )
        bad = next((s for s in scores if not math.isfinite(s)), None)
        if bad is not None:
            raise SearchError(
                f"Reranker {self.reranker.name} returned a non-finite score ({bad}): the model is numerically "
                "broken (fp16 overflow, bad quantisation); try another dtype or check the server."
            )
        return scores

    def search_many(
        self, queries: Sequence[str], params: SearchParams = SearchParams()
    ) -> list[SearchResult]:
        """The first stage's top ``max(k, depth)`` per query, its top ``depth`` re-scored; top ``params.k`` out."""
        queries = list(queries)
        if not queries:
            return []
        firsts = self.first.search_many(queries, replace(params, k=max(params.k, self.depth)))
        chunks = self.corpus.chunks
        out = []
        for query, first in zip(queries, firsts, strict=True):
            head, tail = list(first.hits[: self.depth]), list(first.hits[self.depth :])
            t0 = time.perf_counter()
            scores = self._scores(query, [chunks[h.chunk_index].embed_text for h in head]) if head else []
            rerank_ms = (time.perf_counter() - t0) * 1000.0
            order = sorted(
                range(len(head)), key=lambda j: (-scores[j], j)
            )  # ties keep the first stage's order
            ranked = [(head[j].chunk_index, scores[j]) for j in order] + [
                (h.chunk_index, h.score) for h in tail
            ]
            hits = tuple(
                Hit(rank=r, score=float(s), chunk_index=int(i), chunk_id=chunks[int(i)].id)
                for r, (i, s) in enumerate(ranked[: params.k], start=1)
            )
            extra = dict(first.extra)
            extra["rerank_ms"] = (
                float(extra.get("rerank_ms", 0.0) or 0.0) + rerank_ms
            )  # a nested rerank adds up
            extra.update(reranked=len(head), first_stage=self.first.name)
            out.append(replace(first, hits=hits, extra=extra))
        return out
