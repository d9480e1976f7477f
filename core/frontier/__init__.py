"""The cost frontier: dimensions x precision x index measured on stored vectors, quantisation, the Pareto front and cost at scale."""

from __future__ import annotations

from core.frontier.collapse import (
    BINARY_KEEP_MIN,
    BinaryKeep,
    binary_collapse,
    binary_collapse_warning,
    binary_keeps,
)
from core.frontier.cost import (
    FORMULAS,
    ScaleInputs,
    Tier,
    cost_at_scale,
    embedding,
    hnsw_graph_bytes,
    measured_graph_bytes,
    qdrant_tier,
    recall_caveat,
    text_bytes_per_chunk,
)
from core.frontier.measure import (
    Judged,
    Measurement,
    Sweep,
    equal_budget,
    method,
    metric_of,
    pareto_mark,
    sweep,
    sweep_index,
    to_json,
)
from core.frontier.quantize import PRECISIONS, build_flat

__all__ = [
    "BINARY_KEEP_MIN",
    "BinaryKeep",
    "binary_collapse",
    "binary_collapse_warning",
    "binary_keeps",
    "FORMULAS",
    "Judged",
    "Measurement",
    "PRECISIONS",
    "ScaleInputs",
    "Sweep",
    "Tier",
    "build_flat",
    "cost_at_scale",
    "embedding",
    "equal_budget",
    "hnsw_graph_bytes",
    "measured_graph_bytes",
    "method",
    "metric_of",
    "pareto_mark",
    "qdrant_tier",
    "recall_caveat",
    "sweep",
    "sweep_index",
    "text_bytes_per_chunk",
    "to_json",
]
