"""Models: presets, name resolution to a ModelSpec, where weights are, local embedders, devices, build cost, throughput and memory limits."""

from __future__ import annotations

from core.models.cost import Calibration, CostEstimate, calibrate, estimate_build
from core.models.device import device_kind, has_gpu, resolve_device
from core.models.embedders import load_embedder
from core.models.fairness import CheckItem, ModelCheck, check_model, chunking_item, decision_warnings
from core.models.hub_cache import availability, hub_offline
from core.models.limits import FitReport, check_build_fits
from core.models.presets import PRESETS, display_label
from core.models.published import PublishedFigures, published_figures
from core.models.rerankers import CrossEncoderReranker, QwenReranker, ServedReranker, load_reranker
from core.models.resolve import resolve_model
from core.models.throughput import (
    DECLARED,
    EmbedCost,
    Throughput,
    current_throughput,
    declared_default,
    declared_throughput,
    embed_cost,
    record_build,
    recorded,
    sample_throughput,
)
from core.models.tokenizer import load_tokenizer

__all__ = [
    "Calibration",
    "CheckItem",
    "ModelCheck",
    "check_model",
    "chunking_item",
    "decision_warnings",
    "display_label",
    "CostEstimate",
    "DECLARED",
    "EmbedCost",
    "FitReport",
    "PRESETS",
    "PublishedFigures",
    "availability",
    "calibrate",
    "check_build_fits",
    "current_throughput",
    "declared_default",
    "declared_throughput",
    "device_kind",
    "embed_cost",
    "estimate_build",
    "has_gpu",
    "hub_offline",
    "load_embedder",
    "load_tokenizer",
    "published_figures",
    "record_build",
    "recorded",
    "resolve_device",
    "resolve_model",
    "sample_throughput",
    "Throughput",
    "CrossEncoderReranker",
    "QwenReranker",
    "ServedReranker",
    "load_reranker",
]
