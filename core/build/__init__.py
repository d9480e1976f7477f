"""Building a model's index, the one use case every caller shares: plan (resolve, memory check), load, build."""

from __future__ import annotations

from core.build.plan import (
    PRIOR_CHUNKS,
    BuildPlan,
    build,
    build_index,
    load_model,
    plan_build,
    progress_note,
    running_eta,
)
from core.build.systems import build_system

__all__ = [
    "PRIOR_CHUNKS",
    "BuildPlan",
    "build",
    "build_index",
    "build_system",
    "load_model",
    "plan_build",
    "progress_note",
    "running_eta",
]
