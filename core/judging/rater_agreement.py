"""Do the raters agree? Cohen's kappa for two raters, Fleiss' kappa for three or more, on shared pairs.

- A *pair* is (query_id, chunk_id). It is *shared* when at least two raters gave it a label (skips and
  pairs judged by one rater do not count). Each rater's current label of the pair is used (the store's
  ``judgments()``); by default only pooled judgments count (thumbs were given seeing model names and ranks).
- Two raters in all: Cohen's kappa (unweighted, labels as categories; as ``sklearn.metrics.cohen_kappa_score``)
  over the pairs both labelled.
- Three or more raters: Fleiss' kappa over the shared pairs. Pairs may have different numbers of raters; the
  per-pair agreement is then sum n_ij (n_ij - 1) / (n_i (n_i - 1)) and the category shares are pooled over all
  ratings, which is Fleiss' 1971 formula when every pair has the same number of raters.
- kappa is None when it is undefined: no shared pair, or every label the same category (expected agreement 1).
- ``disagreements``: the shared pairs whose labels are not all equal, for adjudication, largest spread first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from core.judging.store import Judgment, Origin


@dataclass(frozen=True)
class RaterAgreement:
    kind: Literal["cohen", "fleiss"] | None  # None: fewer than two raters share a pair
    kappa: float | None
    raters: tuple[str, ...]  # every rater with a label in the judgments considered
    shared_pairs: int  # (query, chunk) pairs labelled by at least two raters
    disagreements: list[tuple[str, str, dict[str, int]]]  # (query_id, chunk_id, {rater: label})
    observed: float | None = None  # share of shared pairs where all raters gave the same label


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Unweighted Cohen's kappa of two raters' labels of the same items; None when undefined."""
    if len(a) != len(b):
        raise ValueError(f"Both raters need a label for every item ({len(a)} vs {len(b)} labels).")
    n = len(a)
    if n == 0:
        return None
    po = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[c] * cb[c] for c in ca) / (n * n)
    return None if pe >= 1.0 else (po - pe) / (1.0 - pe)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from an items x categories table of rating counts (rows may have different totals, each
    at least 2); None when undefined (no rows, or every rating in one category)."""
    rows = [list(r) for r in counts]
    if not rows:
        return None
    if any(sum(r) < 2 for r in rows):
        raise ValueError("Every item needs at least two ratings for Fleiss' kappa.")
    total = sum(sum(r) for r in rows)
    p_bar = sum(sum(c * (c - 1) for c in r) / (sum(r) * (sum(r) - 1)) for r in rows) / len(rows)
    share = [sum(r[j] for r in rows) / total for j in range(len(rows[0]))]
    pe = sum(s * s for s in share)
    return None if pe >= 1.0 else (p_bar - pe) / (1.0 - pe)


def agreement(judgments: Iterable[Judgment], *, origin: Origin | None = "pooled") -> RaterAgreement:
    """Agreement of the raters in ``judgments`` (current ones, as ``JudgmentStore.judgments()`` returns)."""
    by_pair: dict[tuple[str, str], dict[str, int]] = {}
    for j in judgments:
        if j.label is None or (origin is not None and j.origin != origin):
            continue
        by_pair.setdefault((j.query_id, j.chunk_id), {})[j.rater] = j.label
    raters = tuple(sorted({r for labels in by_pair.values() for r in labels}))
    shared = {p: labels for p, labels in sorted(by_pair.items()) if len(labels) >= 2}
    disagreements = [(q, c, labels) for (q, c), labels in shared.items() if len(set(labels.values())) > 1]
    disagreements.sort(key=lambda d: -(max(d[2].values()) - min(d[2].values())))
    observed = (len(shared) - len(disagreements)) / len(shared) if shared else None
    if not shared:
        return RaterAgreement(None, None, raters, 0, [], None)
    if len(raters) == 2:
        first, second = raters
        kappa = cohen_kappa([v[first] for v in shared.values()], [v[second] for v in shared.values()])
        return RaterAgreement("cohen", kappa, raters, len(shared), disagreements, observed)
    categories = sorted({lab for v in shared.values() for lab in v.values()})
    table = [[Counter(v.values())[c] for c in categories] for v in shared.values()]
    return RaterAgreement("fleiss", fleiss_kappa(table), raters, len(shared), disagreements, observed)
