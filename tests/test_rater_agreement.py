"""Rater agreement: Cohen's and Fleiss' kappa against textbook examples and scikit-learn."""

import random

import pytest

from core.judging.rater_agreement import agreement, cohen_kappa, fleiss_kappa
from core.judging.store import Judgment


def test_cohen_kappa_textbook_example():
    # Wikipedia "Cohen's kappa": 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> kappa 0.4
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_matches_sklearn_on_graded_labels():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(3)
    for _ in range(20):
        a = [rng.choice((0, 1, 2)) for _ in range(40)]
        b = [x if rng.random() < 0.6 else rng.choice((0, 1, 2)) for x in a]
        assert cohen_kappa(a, b) == pytest.approx(sklearn_metrics.cohen_kappa_score(a, b))


def test_kappa_is_none_when_undefined():
    assert cohen_kappa([], []) is None
    assert cohen_kappa([2, 2, 2], [2, 2, 2]) is None  # one category only: chance agreement is 1
    assert fleiss_kappa([]) is None


def test_fleiss_kappa_textbook_example():
    # Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, 5 categories -> kappa 0.210
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-4)


def test_fleiss_with_two_raters_per_item_equals_the_hand_computation():
    # 4 items, 2 raters each, categories (0, 1): items agree, agree, disagree, agree
    table = [[2, 0], [0, 2], [1, 1], [2, 0]]
    p_bar = (1 + 1 + 0 + 1) / 4
    share0 = 5 / 8
    pe = share0**2 + (1 - share0) ** 2
    assert fleiss_kappa(table) == pytest.approx((p_bar - pe) / (1 - pe))


def _j(q, c, label, rater, origin="pooled"):
    return Judgment(q, q, c, label, rater, 0.0, 10, origin)


def test_agreement_picks_cohen_for_two_raters_and_lists_disagreements():
    js = [
        _j("q1", "c1", 2, "ann"), _j("q1", "c1", 2, "bob"),
        _j("q1", "c2", 0, "ann"), _j("q1", "c2", 2, "bob"),
        _j("q1", "c3", 1, "ann"), _j("q1", "c3", 0, "bob"),
        _j("q2", "c1", 0, "ann"), _j("q2", "c1", 0, "bob"),
        _j("q2", "c2", 1, "ann"),  # one rater only: not shared
        _j("q2", "c3", None, "ann"), _j("q2", "c3", 2, "bob"),  # a skip is no label
        _j("q2", "c4", 0, "ann", "thumbs"), _j("q2", "c4", 2, "bob", "thumbs"),  # thumbs left out
    ]
    got = agreement(js)
    assert got.kind == "cohen" and got.raters == ("ann", "bob") and got.shared_pairs == 4
    assert got.kappa == pytest.approx(cohen_kappa([2, 0, 1, 0], [2, 2, 0, 0]))
    assert got.disagreements == [("q1", "c2", {"ann": 0, "bob": 2}), ("q1", "c3", {"ann": 1, "bob": 0})]
    assert got.observed == pytest.approx(0.5)


def test_agreement_uses_fleiss_for_three_raters_and_none_for_one():
    js = [_j("q", f"c{i}", lab, r) for i, labs in enumerate([(2, 2, 2), (0, 0, 1), (1, 1, 1), (0, 2, 0)])
          for r, lab in zip(("ann", "bob", "cy"), labs, strict=True)]
    got = agreement(js)
    assert got.kind == "fleiss" and got.shared_pairs == 4
    table = [[0, 0, 3], [2, 1, 0], [0, 3, 0], [2, 0, 1]]
    assert got.kappa == pytest.approx(fleiss_kappa(table))
    alone = agreement([_j("q", "c", 1, "ann")])
    assert (alone.kind, alone.kappa, alone.shared_pairs) == (None, None, 0)
