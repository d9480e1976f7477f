"""Dimension stops: the one list of Matryoshka / slider dimensions every module uses."""

from __future__ import annotations

MRL_STEPS: tuple[int, ...] = (32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096)


def mrl_stops(full: int) -> tuple[int, ...]:
    """The steps below ``full``, then ``full`` itself: the dims a Matryoshka model is offered at."""
    return tuple(d for d in MRL_STEPS if d < full) + (full,)
