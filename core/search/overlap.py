"""How much two ranked lists agree: overlap@k (Jaccard), rank-biased overlap, rank shifts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def jaccard_at_k(a: Sequence[str], b: Sequence[str], *, k: int | None = None) -> float:
    """|A ∩ B| / |A ∪ B| over the first k items of each list (1.0 when both are empty)."""
    sa, sb = set(a[:k]), set(b[:k])
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def rbo(a: Sequence[str], b: Sequence[str], *, p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap (Webber et al. 2010, eq. 32) of two finite rankings.

    1.0 for identical lists, 0.0 for disjoint ones; p sets how top-heavy it is (0.9: the top 10 carry ~86% of the weight).
    Lists of unequal length use the uneven-length extrapolation (eq. 32 of the paper).
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"rbo: p must be in (0, 1), got {p}")
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    long_, short = (a, b) if len(a) >= len(b) else (b, a)
    s, ell = len(short), len(long_)
    seen_l: set[str] = set()
    seen_s: set[str] = set()
    overlap = 0
    x: list[int] = [0] * (ell + 1)  # x[d] = overlap at depth d
    for d in range(1, ell + 1):
        item_l = long_[d - 1]
        if d <= s:
            item_s = short[d - 1]
            if item_l == item_s:
                overlap += 1
            else:
                overlap += (item_l in seen_s) + (item_s in seen_l)
            seen_s.add(item_s)
        else:
            overlap += item_l in seen_s
        seen_l.add(item_l)
        x[d] = overlap
    total = 0.0
    for d in range(1, ell + 1):
        total += (x[d] / d) * p**d
    for d in range(s + 1, ell + 1):
        total += (x[s] * (d - s) / (s * d)) * p**d
    total *= (1 - p) / p
    total += ((x[ell] - x[s]) / ell + x[s] / s) * p**ell
    return max(0.0, min(1.0, total))


@dataclass(frozen=True)
class RankChange:
    """Where one result sits in each list (None = not in that list's top k)."""

    item: str
    rank_a: int | None
    rank_b: int | None

    @property
    def shift(self) -> int | None:
        """rank_b - rank_a for shared items (negative: model B ranks it higher)."""
        if self.rank_a is None or self.rank_b is None:
            return None
        return self.rank_b - self.rank_a

    @property
    def only_in(self) -> str | None:
        if self.rank_a is None:
            return "B"
        if self.rank_b is None:
            return "A"
        return None


def rank_changes(a: Sequence[str], b: Sequence[str]) -> dict[str, RankChange]:
    """Per item of either list, its 1-based rank in A and in B."""
    pos_a = {item: i + 1 for i, item in enumerate(a)}
    pos_b = {item: i + 1 for i, item in enumerate(b)}
    return {item: RankChange(item, pos_a.get(item), pos_b.get(item)) for item in dict.fromkeys([*a, *b])}


@dataclass(frozen=True)
class Agreement:
    """Agreement summary of two top-k lists for one query."""

    k: int
    shared: int
    jaccard: float
    rbo: float
    only_a: int
    only_b: int


def agreement(a: Sequence[str], b: Sequence[str], *, k: int, p: float = 0.9) -> Agreement:
    """Overlap@k (Jaccard), RBO and counts of results only one model found."""
    ta, tb = list(a[:k]), list(b[:k])
    shared = len(set(ta) & set(tb))
    return Agreement(
        k=k,
        shared=shared,
        jaccard=jaccard_at_k(ta, tb),
        rbo=rbo(ta, tb, p=p),
        only_a=len(set(ta) - set(tb)),
        only_b=len(set(tb) - set(ta)),
    )
