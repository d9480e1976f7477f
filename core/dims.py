"""Dimensions, owned here once: which dims a model offers (slider), which the frontier sweeps, range and list checks.

The rule, stated once:

- A Matryoshka-trained model (its spec lists ``mrl_dims``) is offered and swept at its trained dims below
  full, then full.
- Any other model is offered the standard steps below its full dimension (``MRL_STEPS``) on the Dimensions
  page, where post-hoc truncation (first d dims, renormalised) is shown as what it is; the frontier sweeps it at
  full dimension only, because its cost figures would promise a truncation it was not trained for. The
  "every model on the dimension axis" work changes this second rule here, and only here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import SearchError

MRL_STEPS: tuple[int, ...] = (32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096)


def mrl_stops(full: int) -> tuple[int, ...]:
    """The steps below ``full``, then ``full`` itself: the dims a Matryoshka model is offered at."""
    return tuple(d for d in MRL_STEPS if d < full) + (full,)


def offered_dims(full_dim: int, mrl_dims: Sequence[int] = ()) -> list[int]:
    """Dims every page offers (slider, curve): the trained dims below full, else the standard steps; then full."""
    dims = [d for d in (mrl_dims or MRL_STEPS) if 0 < d < full_dim]
    return sorted(set(dims)) + [full_dim]


def swept_dims(full_dim: int, mrl_dims: Sequence[int] = ()) -> list[int]:
    """Dims the cost frontier measures: a Matryoshka-trained model's stops; full dimension only otherwise."""
    if not mrl_dims:
        return [full_dim]
    trained = sorted({d for d in mrl_dims if 0 < d < full_dim})
    return [*(trained or list(mrl_stops(full_dim))[:-1]), full_dim]


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
