"""Is model A really better than model B? Per-query win/tie/loss, a paired randomisation test, a bootstrap CI.

Both tests work on the per-query differences d_q = a_q - b_q over the queries the two runs share:
- paired randomisation (sign-flip) test, two-sided: under H0 each d_q is as likely to be -d_q; the p-value
  is (1 + #{flips with |mean| >= |observed mean|}) / (1 + n_resamples) (Smucker, Allan & Carterette 2007);
  identical runs give p = 1 exactly.
- percentile bootstrap: resample queries with replacement and take the 2.5% / 97.5% quantiles of the
  mean difference.
Both are seeded, so the same inputs always give the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from core.evaluation.metrics import EvaluationError

_CHUNK = 1000  # resamples per vectorised block (bounds memory at ~8 MB per 1,000 queries)


@dataclass(frozen=True)
class PairedResult:
    """A vs B on one metric: means, per-query win/tie/loss, randomisation p-value, bootstrap CI of A - B."""

    metric: str
    queries: int
    mean_a: float
    mean_b: float
    diff: float  # mean_a - mean_b
    wins: int  # queries where A scores higher
    ties: int
    losses: int
    p_value: float
    ci_low: float
    ci_high: float
    n_resamples: int
    seed: int
    confidence: float = 0.95

    @property
    def significant(self) -> bool:
        """p < 1 - confidence (0.05 by default)."""
        return self.p_value < 1.0 - self.confidence

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (lowercase keys)."""
        return {**asdict(self), "significant": self.significant}


def paired_differences(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    """Query ids shared by a and b (sorted) and the differences a - b; raises when nothing is shared."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise EvaluationError(
            "The two runs share no evaluated query: evaluate both against the same qrels and query set."
        )
    return shared, np.array([a[q] - b[q] for q in shared], dtype=np.float64)


def win_tie_loss(
    a: Mapping[str, float], b: Mapping[str, float], *, tol: float = 1e-9
) -> tuple[int, int, int]:
    """How many shared queries A wins, ties (|a - b| <= tol) and loses."""
    _, d = paired_differences(a, b)
    return int((d > tol).sum()), int((np.abs(d) <= tol).sum()), int((d < -tol).sum())


def randomization_test(diffs: np.ndarray, *, n_resamples: int = 10_000, seed: int = 0) -> float:
    """Two-sided paired sign-flip randomisation test on per-query differences; returns the p-value."""
    diffs = np.asarray(diffs, dtype=np.float64)
    if diffs.size == 0 or n_resamples < 1:
        raise EvaluationError("randomization_test needs at least one difference and n_resamples >= 1.")
    observed = abs(diffs.mean())
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, n_resamples, _CHUNK):
        m = min(_CHUNK, n_resamples - start)
        signs = rng.integers(0, 2, size=(m, diffs.size), dtype=np.int8) * 2 - 1
        means = np.abs(signs @ diffs) / diffs.size
        # a relative tolerance so float noise never turns an equal mean into a "less extreme" one
        extreme += int((means >= observed - 1e-12 * max(1.0, observed)).sum())
    return (extreme + 1) / (n_resamples + 1)


def bootstrap_ci(
    diffs: np.ndarray, *, n_resamples: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean difference (queries resampled with replacement)."""
    diffs = np.asarray(diffs, dtype=np.float64)
    if diffs.size == 0 or not 0.0 < confidence < 1.0:
        raise EvaluationError("bootstrap_ci needs at least one difference and 0 < confidence < 1.")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, _CHUNK):
        m = min(_CHUNK, n_resamples - start)
        idx = rng.integers(0, diffs.size, size=(m, diffs.size))
        means[start : start + m] = diffs[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_test(
    a: Mapping[str, float],
    b: Mapping[str, float],
    *,
    metric: str = "",
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedResult:
    """Compare per-query scores of A and B ({qid: value}) on their shared queries."""
    shared, d = paired_differences(a, b)
    wins, ties, losses = win_tie_loss(a, b)
    lo, hi = bootstrap_ci(d, n_resamples=n_resamples, seed=seed, confidence=confidence)
    return PairedResult(
        metric=metric,
        queries=len(shared),
        mean_a=float(np.mean([a[q] for q in shared])),
        mean_b=float(np.mean([b[q] for q in shared])),
        diff=float(d.mean()),
        wins=wins,
        ties=ties,
        losses=losses,
        p_value=randomization_test(d, n_resamples=n_resamples, seed=seed),
        ci_low=lo,
        ci_high=hi,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
    )
