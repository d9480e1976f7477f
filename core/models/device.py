"""Compute devices: what 'auto' means on this machine, and which kind a device string names."""

from __future__ import annotations

import functools
import glob
import os
import sys
from typing import Literal

DeviceKind = Literal["cpu", "cuda", "mps", "endpoint"]


def device_kind(device: str) -> DeviceKind:
    """'cuda:1' -> 'cuda', 'mps' -> 'mps', 'endpoint' -> 'endpoint', anything else -> 'cpu'."""
    d = (device or "cpu").lower()
    if d.startswith("cuda"):
        return "cuda"
    if d.startswith("mps"):
        return "mps"
    if d.startswith("endpoint"):
        return "endpoint"
    return "cpu"


def _no_gpu_possible() -> bool:
    """True when this machine certainly has no GPU torch could use: Linux without an NVIDIA (/dev/nvidia*) or ROCm
    (/dev/kfd) device node. Asking torch costs its import (seconds: the Home page's first open waited for it)."""
    if sys.platform != "linux":
        return False  # macOS (MPS), Windows: only torch knows
    return not glob.glob("/dev/nvidia[0-9]*") and not os.path.exists("/dev/kfd")


@functools.lru_cache(maxsize=1)
def best_device() -> str:
    """'cuda' when torch sees a CUDA GPU, else 'mps' on Apple silicon, else 'cpu' (probed once)."""
    if _no_gpu_possible():
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_device(device: str) -> str:
    """The device a build runs on: ``device`` itself, or the best one here when it is 'auto'."""
    return best_device() if device == "auto" else device


def has_gpu() -> bool:
    """True when torch sees CUDA or MPS."""
    return best_device() != "cpu"
