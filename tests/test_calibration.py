"""Calibration of the LLM judge against people: weighted kappa (== scikit-learn's), the confusion table, the
disagreements, the trust rule at its edges, and human zeros for documents absent from relevant-only qrels."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from core.judging import (
    ABSENT_IS_ZERO_NOTE,
    MIN_KAPPA,
    MIN_SHARED_PAIRS,
    TRUST_RULE,
    Calibration,
    Disagreement,
    calibrate,
    lift_to_files,
    llm_labels_trusted,
    weighted_kappa,
)

pairs = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=80)


@settings(max_examples=300, deadline=None)
@given(pairs)
def test_weighted_kappa_equals_scikit_learns_linear_weighted_kappa(rows):
    a, b = [x for x, _ in rows], [y for _, y in rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns (and answers nan) where kappa is undefined
        expected = cohen_kappa_score(a, b, weights="linear")
    got = weighted_kappa(a, b)
    if math.isnan(expected):
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_weighted_kappa_weighs_a_two_grade_gap_more_than_a_one_grade_gap():
    near = weighted_kappa([0, 1, 2, 0, 1, 2], [1, 1, 2, 0, 1, 2])
    far = weighted_kappa([0, 1, 2, 0, 1, 2], [2, 1, 2, 0, 1, 2])
    assert near is not None and far is not None and far < near < 1.0
    assert weighted_kappa([], []) is None and weighted_kappa([1, 1], [1, 1]) is None
    with pytest.raises(ValueError, match="among"):
        weighted_kappa([3], [0])


def test_confusion_table_disagreements_and_shared_pairs():
    human = {"q1": {"a": 2, "b": 0, "c": 1}, "q2": {"d": 2}}
    llm = {"q1": {"a": 2, "b": 2, "c": 0, "x": 1}, "q2": {"d": 1}, "q3": {"e": 2}}
    cal = calibrate(human, llm)
    assert cal.shared_pairs == 4 and cal.queries == 2  # x has no person's label, q3 no judged query
    assert cal.confusion == ((0, 0, 1), (1, 0, 0), (0, 1, 1))  # rows: person 0/1/2, columns: LLM 0/1/2
    assert cal.disagreements == (
        Disagreement("q1", "b", 0, 2),  # the largest gap first
        Disagreement("q1", "c", 1, 0),
        Disagreement("q2", "d", 2, 1),
    )
    assert cal.agreement == pytest.approx(0.25)
    assert cal.kappa == pytest.approx(cohen_kappa_score([2, 0, 1, 2], [2, 2, 0, 1], weights="linear"))


def test_absent_from_a_judged_querys_relevant_only_qrels_is_a_human_zero():
    human = {"q1": {"a": 2}}  # BEIR-style: relevant documents only
    llm = {"q1": {"a": 2, "b": 0, "c": 1}, "q2": {"d": 2}}
    plain = calibrate(human, llm)
    zeros = calibrate(human, llm, absent_is_zero=True)
    assert plain.shared_pairs == 1
    assert zeros.shared_pairs == 3 and zeros.absent_zeros == 2  # q2 is not a judged query: no pair
    assert zeros.confusion[0] == (1, 1, 0)  # b and c became human 0s
    assert "absent" in ABSENT_IS_ZERO_NOTE and "human 0" in ABSENT_IS_ZERO_NOTE
    assert "2 of them human 0s by absence" in zeros.sentence()
    only_pool = calibrate(human, llm, absent_is_zero=True, pools={"q1": ["a", "b"]})
    assert only_pool.shared_pairs == 2


def test_human_grades_outside_0_to_2_are_clipped_and_file_level_qrels_take_the_best_chunk():
    assert calibrate({"q": {"a": 4, "b": -1}}, {"q": {"a": 2, "b": 0}}).confusion == (
        (1, 0, 0),
        (0, 0, 0),
        (0, 0, 1),
    )
    lifted = lift_to_files(
        {"q": {"f.md#0": 0, "f.md#1": 2, "g.md#0": 1, "other": 1}},
        {"f.md#0": "f.md", "f.md#1": "f.md", "g.md#0": "g.md"},
    )
    assert lifted == {"q": {"f.md": 2, "g.md": 1, "other": 1}}


def _cal(pairs: int, kappa: float | None) -> Calibration:
    return Calibration(shared_pairs=pairs, kappa=kappa, confusion=((0,) * 3,) * 3, disagreements=())


@pytest.mark.parametrize(
    ("pairs", "kappa", "trusted", "said"),
    [
        (30, 0.41, True, "meets the rule"),
        (30, 0.40, True, "meets the rule"),
        (29, 0.41, False, "only 29 pairs judged by both"),
        (30, 0.39, False, "weighted kappa is 0.39, below 0.40"),
        (29, 0.39, False, "only 29 pairs judged by both a person and the LLM and the weighted kappa is 0.39"),
        (0, None, False, "undefined"),
    ],
)
def test_the_rule_needs_kappa_04_over_30_shared_pairs_and_says_what_failed(pairs, kappa, trusted, said):
    ok, reason = llm_labels_trusted(_cal(pairs, kappa))
    assert ok is trusted and said in reason
    assert (MIN_KAPPA, MIN_SHARED_PAIRS) == (0.4, 30) and "0.4" in TRUST_RULE and "30" in TRUST_RULE


def test_the_rule_on_computed_labels():
    # 30 pairs, people and the LLM agree on all but a few: trusted; the same agreement on 29 pairs is not
    human = {"q": {f"d{i}": i % 3 for i in range(30)}}
    llm = {"q": {f"d{i}": (i % 3 if i % 10 else (i + 1) % 3) for i in range(30)}}
    cal = calibrate(human, llm)
    assert cal.shared_pairs == 30 and cal.kappa is not None and cal.kappa > 0.4
    assert llm_labels_trusted(cal)[0]
    del human["q"]["d29"]
    assert not llm_labels_trusted(calibrate(human, llm))[0]
