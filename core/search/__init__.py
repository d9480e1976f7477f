"""Search: the engine (embed once, search at any dimension), exact and hnswlib indexes, Qdrant, the dimension axis (Matryoshka prefix, post-hoc truncation, PCA rotation), list agreement."""

from __future__ import annotations

from core.search.engine import IndexBackend, ModelIndex, build_model_index
from core.search.fusion import RRF_K, HybridSystem, convex, fuse, fused_order, minmax, rrf
from core.search.index import HnswIndex, IndexParams, exact_search, query_block_rows, rank_block, truncate
from core.search.lexical import TOKENISER_VERSION, Bm25Index, bm25_tokenize
from core.search.matryoshka import (
    TruncationCurve,
    common_dims,
    drop_excluded,
    equal_cost_dims,
    pseudo_queries,
    recall_at_k,
    reduction_curve,
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
from core.search.rerank import Reranker, RerankSystem
from core.search.rotation import fit_rotation, rotate, rotation_blob
from core.search.systems import KIND_LABELS, System, SystemSpec, parse_system

__all__ = [
    "API_KEY_ENV",
    "Agreement",
    "Bm25Index",
    "ByoCollection",
    "HnswIndex",
    "IndexBackend",
    "IndexParams",
    "ModelIndex",
    "QdrantBackend",
    "QdrantError",
    "QdrantTarget",
    "RankChange",
    "TOKENISER_VERSION",
    "TruncationCurve",
    "agreement",
    "bm25_tokenize",
    "build_model_index",
    "byo_model_index",
    "check_collection_name",
    "close",
    "common_dims",
    "drop_excluded",
    "dropped_points",
    "equal_cost_dims",
    "exact_search",
    "fit_rotation",
    "is_open",
    "jaccard_at_k",
    "pseudo_queries",
    "query_block_rows",
    "rank_block",
    "rotate",
    "rotation_blob",
    "rank_changes",
    "recall_at_k",
    "reduction_curve",
    "truncate",
    "truncation_curve",
    "RRF_K",
    "HybridSystem",
    "convex",
    "fuse",
    "fused_order",
    "minmax",
    "rrf",
    "Reranker",
    "RerankSystem",
    "KIND_LABELS",
    "System",
    "SystemSpec",
    "parse_system",
]
