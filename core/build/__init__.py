"""Building a model's index, the one use case every caller shares: plan (resolve, memory check), load, build."""

from __future__ import annotations

from core.build.plan import BuildPlan, build, build_index, load_model, plan_build, progress_note

__all__ = ["BuildPlan", "build", "build_index", "load_model", "plan_build", "progress_note"]
