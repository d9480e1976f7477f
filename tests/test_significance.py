"""Paired comparison: identical runs are never significant, clearly different runs are."""

import numpy as np
import pytest

from core.evaluation.metrics import EvaluationError
from core.evaluation.significance import bootstrap_ci, paired_test, randomization_test, win_tie_loss


def test_identical_scores_give_p_one_and_zero_interval():
    a = {f"q{i}": (i % 7) / 7 for i in range(50)}
    r = paired_test(a, dict(a), metric="ndcg@10")
    assert r.p_value == 1.0
    assert (r.ci_low, r.ci_high) == (0.0, 0.0)
    assert (r.wins, r.ties, r.losses) == (0, 50, 0)
    assert not r.significant


def test_clearly_better_run_is_significant_with_a_positive_interval():
    rng = np.random.default_rng(1)
    b = {f"q{i}": float(x) for i, x in enumerate(rng.uniform(0.2, 0.6, 60))}
    a = {q: v + 0.1 + float(rng.normal(0, 0.05)) for q, v in b.items()}
    r = paired_test(a, b, metric="ndcg@10")
    assert r.p_value < 0.05 and r.significant
    assert 0.0 < r.ci_low < r.diff < r.ci_high
    assert r.wins > r.losses
    assert r.to_dict()["significant"] is True


def test_noise_is_not_significant_and_results_are_reproducible():
    rng = np.random.default_rng(2)
    a = {f"q{i}": float(x) for i, x in enumerate(rng.uniform(0, 1, 40))}
    b = {q: float(x) for q, x in zip(a, rng.uniform(0, 1, 40), strict=True)}
    r1, r2 = paired_test(a, b), paired_test(a, b)
    assert r1 == r2
    assert r1.p_value > 0.05
    assert r1.ci_low < 0 < r1.ci_high


def test_small_sample_p_value_matches_exact_enumeration():
    # 4 queries all +1: of 16 sign patterns, 2 reach |mean| = 1, so the exact two-sided p is 1/8
    p = randomization_test(np.ones(4), n_resamples=20_000, seed=3)
    assert p == pytest.approx(0.125, abs=0.01)


def test_win_tie_loss_and_errors():
    assert win_tie_loss({"a": 1.0, "b": 0.5, "c": 0.0}, {"a": 0.5, "b": 0.5, "c": 0.2}) == (1, 1, 1)
    with pytest.raises(EvaluationError, match="share no evaluated query"):
        paired_test({"a": 1.0}, {"b": 1.0})
    lo, hi = bootstrap_ci(np.array([0.1, 0.2, 0.3]), n_resamples=500)
    assert 0.1 <= lo <= hi <= 0.3
