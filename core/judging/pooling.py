"""Pooled, blind judging: the pool of a query is the union of both models' top-k, in an order that hides who
found what.

The order is a seeded shuffle: chunks sorted by ``sha256(seed + "\\0" + chunk_id)``. It depends only on the
*set* of pooled chunk ids and the seed (use the query id), never on which model returned a chunk or at what
rank, so swapping the two rankings (or reordering either) gives the same pool in the same order, and a
rater who comes back sees the same order again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _key(seed: str, chunk_id: str) -> str:
    return hashlib.sha256(f"{seed}\0{chunk_id}".encode("utf-8", "surrogatepass")).hexdigest()


def pool(
    ranked_a: Sequence[str], ranked_b: Sequence[str], k: int, *, seed: str, more: Sequence[Sequence[str]] = ()
) -> list[str]:
    """Union of the first k ids of both rankings (and of any ``more``: every other system's), no duplicates, in a
    blind seeded order (see module doc)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"Pool depth k must be a positive integer (got {k!r}).")
    ids = set(ranked_a[:k]) | set(ranked_b[:k])
    for ranked in more:
        ids.update(ranked[:k])
    return sorted(ids, key=lambda cid: (_key(seed, cid), cid))


def pool_coverage(pooled: Sequence[str], judged: set[str] | dict[str, object]) -> tuple[int, int]:
    """(judged, total) chunks of one pool: the progress of a query."""
    return sum(1 for cid in pooled if cid in judged), len(pooled)
