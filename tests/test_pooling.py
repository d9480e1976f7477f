"""Pool construction: union of both top-k, no duplicates, order independent of which model found what."""

import pytest

from core.judging.pooling import pool, pool_coverage


def test_pool_is_the_union_of_both_top_k_without_duplicates():
    a = ["c1", "c2", "c3", "c9"]
    b = ["c3", "c4", "c1", "c8"]
    got = pool(a, b, 3, seed="q1")
    assert sorted(got) == ["c1", "c2", "c3", "c4"]
    assert len(got) == len(set(got))


def test_pool_order_does_not_depend_on_the_model_or_rank():
    a = [f"c{i}" for i in range(10)]
    b = [f"c{i}" for i in range(5, 15)]
    first = pool(a, b, 10, seed="q7")
    assert pool(b, a, 10, seed="q7") == first  # models swapped
    assert pool(list(reversed(a)), b, 10, seed="q7") == first  # ranks within the top-k changed
    assert first != sorted(first) and first[:10] != a  # shuffled: neither alphabetical nor model A first
    assert pool(a, b, 10, seed="q8") != first  # another query gets another order


def test_pool_depth_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        pool(["a"], ["b"], 0, seed="q")


def test_pool_coverage_counts_judged_chunks():
    assert pool_coverage(["a", "b", "c"], {"b": 2, "z": 1}) == (1, 3)
