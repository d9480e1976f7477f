"""The cost frontier: dimensions x precision x index measured on stored vectors, quantisation, the Pareto front and cost at scale."""

from __future__ import annotations

from core.frontier.measure import (
    FORMULAS,
    Judged,
    Measurement,
    ScaleInputs,
    Sweep,
    cost_at_scale,
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
    "FORMULAS",
    "Judged",
    "Measurement",
    "PRECISIONS",
    "ScaleInputs",
    "Sweep",
    "build_flat",
    "cost_at_scale",
    "equal_budget",
    "method",
    "metric_of",
    "pareto_mark",
    "sweep",
    "sweep_index",
    "to_json",
]
