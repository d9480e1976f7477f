"""Models: presets, name resolution to a ModelSpec, where weights are, local embedders, devices, build cost and memory limits."""

from __future__ import annotations

from core.models.cost import Calibration, CostEstimate, calibrate, estimate_build
from core.models.device import device_kind, has_gpu, resolve_device
from core.models.embedders import load_embedder
from core.models.hub_cache import availability, hub_offline
from core.models.limits import FitReport, check_build_fits
from core.models.presets import PRESETS
from core.models.resolve import resolve_model
from core.models.tokenizer import load_tokenizer

__all__ = [
    "Calibration",
    "CostEstimate",
    "FitReport",
    "PRESETS",
    "availability",
    "calibrate",
    "check_build_fits",
    "device_kind",
    "estimate_build",
    "has_gpu",
    "hub_offline",
    "load_embedder",
    "load_tokenizer",
    "resolve_device",
    "resolve_model",
]
