"""Search: the engine (embed once, search at any dimension), exact and hnswlib indexes, Qdrant, the Matryoshka curve, list agreement."""

from __future__ import annotations

from core.search.engine import IndexBackend, ModelIndex, build_model_index
from core.search.index import HnswIndex, IndexParams, exact_search, query_block_rows, rank_block, truncate
from core.search.matryoshka import (
    TruncationCurve,
    common_dims,
    drop_excluded,
    equal_cost_dims,
    pseudo_queries,
    recall_at_k,
    truncation_curve,
)
from core.search.overlap import Agreement, RankChange, agreement, jaccard_at_k, rank_changes
from core.search.qdrant import (
    API_KEY_ENV,
    QdrantBackend,
    QdrantError,
    QdrantTarget,
    check_collection_name,
    close,
    is_open,
)
from core.search.qdrant_byo import ByoCollection, byo_model_index, dropped_points

__all__ = [
    "API_KEY_ENV",
    "Agreement",
    "ByoCollection",
    "HnswIndex",
    "IndexBackend",
    "IndexParams",
    "ModelIndex",
    "QdrantBackend",
    "QdrantError",
    "QdrantTarget",
    "RankChange",
    "TruncationCurve",
    "agreement",
    "build_model_index",
    "byo_model_index",
    "check_collection_name",
    "close",
    "common_dims",
    "drop_excluded",
    "dropped_points",
    "equal_cost_dims",
    "exact_search",
    "is_open",
    "jaccard_at_k",
    "pseudo_queries",
    "query_block_rows",
    "rank_block",
    "rank_changes",
    "recall_at_k",
    "truncate",
    "truncation_curve",
]
