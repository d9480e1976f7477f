"""Agreement measures and Matryoshka recall, checked against independent computations."""

import numpy as np
import pytest

from core.dims import offered_dims
from core.search.index import exact_search
from core.search.matryoshka import equal_cost_dims, pseudo_queries, recall_at_k, truncation_curve
from core.search.overlap import agreement, jaccard_at_k, rank_changes, rbo


def test_jaccard_and_rbo_extremes():
    a = ["d1", "d2", "d3", "d4"]
    assert jaccard_at_k(a, a) == 1.0
    assert rbo(a, a) == pytest.approx(1.0)
    assert jaccard_at_k(a, ["x", "y"]) == 0.0
    assert rbo(a, ["x", "y", "z", "w"]) == 0.0


def test_rbo_is_top_weighted():
    base = [f"d{i}" for i in range(10)]
    swap_top = [base[1], base[0], *base[2:]]
    swap_bottom = [*base[:8], base[9], base[8]]
    assert rbo(base, swap_bottom) > rbo(base, swap_top) > 0.8


def test_rbo_matches_the_definition_on_a_small_case():
    # Webber et al.: RBO_ext for equal-length lists = (1-p)/p * sum_{d=1..k} A_d p^d + A_k p^k.
    a, b, p = ["a", "b", "c"], ["b", "a", "d"], 0.9
    agreements = [0 / 1, 2 / 2, 2 / 3]
    expected = (1 - p) / p * sum(x * p ** (d + 1) for d, x in enumerate(agreements)) + agreements[-1] * p**3
    assert rbo(a, b, p=p) == pytest.approx(expected)


def test_agreement_counts_and_rank_changes():
    ag = agreement(["a", "b", "c", "d"], ["b", "c", "e", "f"], k=4)
    assert (ag.shared, ag.only_a, ag.only_b) == (2, 2, 2)
    assert ag.jaccard == pytest.approx(2 / 6)
    ch = rank_changes(["a", "b"], ["b", "c"])
    assert ch["b"].shift == -1 and ch["a"].only_in == "A" and ch["c"].only_in == "B"


def _unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_truncation_recall_equals_an_independent_computation():
    rng = np.random.default_rng(1)
    docs, queries = _unit(rng, 500, 64), _unit(rng, 20, 64)
    k = 10
    truth = [set(np.argsort(-(docs @ q))[:k]) for q in queries]
    for d in (8, 32, 64):
        sliced = docs[:, :d] / np.linalg.norm(docs[:, :d], axis=1, keepdims=True)
        qs = queries[:, :d] / np.linalg.norm(queries[:, :d], axis=1, keepdims=True)
        got = [set(np.argsort(-(sliced @ q))[:k]) for q in qs]
        expected = np.mean([len(t & g) / k for t, g in zip(truth, got, strict=True)])
        assert truncation_curve(docs, queries, dims=[d], k=k).recall[d] == pytest.approx(expected)
    assert truncation_curve(docs, queries, dims=[64], k=k).recall[64] == 1.0


def test_pseudo_queries_never_return_themselves():
    rng = np.random.default_rng(2)
    docs = _unit(rng, 100, 16)
    rows = pseudo_queries(100, n=10)
    top, _ = exact_search(docs, docs[rows], 5, exclude=rows)
    assert not any(r in t for r, t in zip(rows, top.tolist(), strict=True))
    assert recall_at_k(top, top, k=5) == 1.0


def test_offered_dims_and_equal_cost_point():
    assert offered_dims(2560, (32, 64, 128, 256, 512, 768, 1024, 2048, 2560))[0] == 32
    assert offered_dims(384)[-1] == 384 and all(d <= 384 for d in offered_dims(384))
    assert equal_cost_dims(768, offered_dims(2560, (32, 256, 768, 1024, 2560))) == 768


def test_common_dims_offers_only_stops_both_models_support():
    """Issue 13 item 7: two 384-dim models were offered 512, 768 and 1024 (silently scored at full dimension)."""
    from core.search.matryoshka import common_dims

    assert common_dims((384, ()), (384, ())) == [32, 64, 128, 256]  # 384 itself is "full"
    qwen = (2560, (32, 64, 128, 256, 512, 768, 1024, 2048, 2560))
    assert common_dims(qwen, (384, ())) == [32, 64, 128, 256]  # 384 is no trained stop of the 2560-dim model
    assert common_dims((768, ()), (1024, ())) == [32, 64, 128, 256, 384, 512, 768]  # 768 = full of one, cut of the other
