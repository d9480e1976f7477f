"""Dimensions, owned here once: which dims a model offers (slider), which the frontier sweeps, how it gets there.

The rule, stated once:

- Every model is on the dimension axis. A Matryoshka-trained model (its spec lists ``mrl_dims``) is offered and
  swept at its trained dims below full, then full; any other model at the standard steps below its full
  dimension (``MRL_STEPS``), then full.
- How a model gets to d dims is its *reduction*. A Matryoshka-trained model has one: prefix truncation (the first
  d dims, renormalised), labelled "Matryoshka-trained". Any other model has two, each its own labelled curve and
  its own frontier rows: "post-hoc truncation" (the same prefix cut, which it was not trained for) and
  "PCA rotation" (an orthogonal rotation onto the principal directions of the corpus vectors, fitted once per
  corpus and model, then the first d dims; core.search.rotation). At full dimension both score like the
  original vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.errors import SearchError

MRL_STEPS: tuple[int, ...] = (32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096)

ReductionId = Literal["prefix", "pca"]
REDUCTION_IDS: tuple[ReductionId, ...] = ("prefix", "pca")
PREFIX: ReductionId = "prefix"  # the first d dims, renormalised
PCA: ReductionId = "pca"  # rotated onto the corpus's principal directions, then the first d dims


@dataclass(frozen=True)
class Reduction:
    """One way a model's vectors get to d dims: a plain id ('prefix' or 'pca') and the label users read."""

    id: ReductionId
    label: str


MATRYOSHKA_TRAINED = Reduction(PREFIX, "Matryoshka-trained")
POST_HOC = Reduction(PREFIX, "post-hoc truncation")
PCA_ROTATION = Reduction(PCA, "PCA rotation")


def reductions(full_dim: int, mrl_dims: Sequence[int] = ()) -> tuple[Reduction, ...]:
    """A model's reductions: prefix truncation alone when Matryoshka-trained; post-hoc truncation and PCA otherwise."""
    del full_dim  # the rule depends on training alone; kept so callers pass what they have
    if mrl_dims:
        return (MATRYOSHKA_TRAINED,)
    return (POST_HOC, PCA_ROTATION)


def reduction_label(reduction: str, *, trained: bool) -> str:
    """The user label of ``reduction`` for a model that is (or is not) Matryoshka-trained: "Matryoshka-trained",
    "post-hoc truncation" or "PCA rotation"."""
    if check_reduction(reduction) == PCA:
        return PCA_ROTATION.label
    return MATRYOSHKA_TRAINED.label if trained else POST_HOC.label


def check_reduction(
    reduction: object, *, allowed: Sequence[Reduction] | None = None, what: str = ""
) -> ReductionId:
    """``reduction`` as a ReductionId, or a SearchError naming the valid ids (those of ``allowed`` when given)."""
    ids = [r.id for r in allowed] if allowed is not None else list(REDUCTION_IDS)
    if not isinstance(reduction, str) or reduction not in ids:
        where = f" for {what}" if what else ""
        raise SearchError(
            f"Unknown reduction {reduction!r}{where}: use one of {ids} "
            "('prefix': the first d dims; 'pca': the PCA rotation, offered for models not trained for truncation)."
        )
    return PCA if reduction == PCA else PREFIX


def mrl_stops(full: int) -> tuple[int, ...]:
    """The steps below ``full``, then ``full`` itself: the dims a Matryoshka model is offered at."""
    return tuple(d for d in MRL_STEPS if d < full) + (full,)


def offered_dims(full_dim: int, mrl_dims: Sequence[int] = ()) -> list[int]:
    """Dims every page offers (slider, curve): the trained dims below full, else the standard steps; then full."""
    dims = [d for d in (mrl_dims or MRL_STEPS) if 0 < d < full_dim]
    return sorted(set(dims)) + [full_dim]


def swept_dims(full_dim: int, mrl_dims: Sequence[int] = ()) -> list[int]:
    """Dims the cost frontier measures: a Matryoshka-trained model's trained stops, else the standard steps; then full.

    The same dims the pages offer (``offered_dims``); an untrained model's rows carry their reduction.
    """
    return offered_dims(full_dim, mrl_dims)


def check_dims(dims: object, full: int, *, what: str = "") -> int:
    """``dims`` as an int in 1..full, or a SearchError naming the range (and ``what``, e.g. the model)."""
    if isinstance(dims, bool) or not isinstance(dims, int | np.integer) or not 1 <= dims <= full:
        where = f" for {what}" if what else ""
        raise SearchError(
            f"dims must be an integer between 1 and {full} (the full dimension){where}, got {dims!r}; "
            "pick one of the dimensions offered for this model."
        )
    return int(dims)


def parse_dims(text: str, *, field: str = "dims") -> tuple[int, ...]:
    """'64, 256' -> (64, 256); a ValueError naming ``field`` and the expected form otherwise."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a list of whole numbers like 64,256") from None
    if any(d < 1 for d in dims):
        raise ValueError(f"{field} must be positive whole numbers like 64,256, got {text!r}")
    return dims
