"""Metrics on hand-computed toy runs, checked against trec_eval's conventions (and pytrec_eval when installed)."""

import math
import random

import pytest

from core.evaluation.metrics import (
    EvaluationError,
    evaluate_per_query,
    mean_metrics,
    metric_key,
    parse_metric,
    ranked,
)

L2 = math.log2


def one(run, qrels, metric, **kw):
    return evaluate_per_query(run, qrels, [metric], **kw)["q"][metric_key(metric)]


def test_graded_ndcg_matches_hand_computation():
    # ranking: a (grade 1), b (0), c (2); ideal: c(2), a(1), d(1, never retrieved)
    run = {"q": {"a": 0.9, "b": 0.8, "c": 0.7}}
    qrels = {"q": {"a": 1, "b": 0, "c": 2, "d": 1}}
    dcg = 1 / L2(2) + 2 / L2(4)
    idcg = 2 / L2(2) + 1 / L2(3) + 1 / L2(4)
    assert one(run, qrels, "ndcg@10") == pytest.approx(dcg / idcg)
    # cut at 2: the grade-2 doc at rank 3 no longer counts, the ideal is cut at 2 as well
    assert one(run, qrels, "ndcg@2") == pytest.approx((1 / L2(2)) / (2 / L2(2) + 1 / L2(3)))


def test_linear_gain_not_exponential():
    run = {"q": {"x": 1.0, "y": 0.5}}
    qrels = {"q": {"y": 3, "x": 1}}
    linear = (1 + 3 / L2(3)) / (3 + 1 / L2(3))
    assert one(run, qrels, "ndcg@10") == pytest.approx(linear)


def test_ties_are_broken_by_doc_id_descending_like_trec_eval():
    run = {"q": {"a": 0.5, "b": 0.5, "c": 0.5}}
    assert ranked(run["q"]) == ["c", "b", "a"]
    qrels = {"q": {"a": 1}}
    # "a" is ranked last among the tied documents, so MRR is 1/3 and nothing is in the top 2
    assert one(run, qrels, "mrr@10") == pytest.approx(1 / 3)
    assert one(run, qrels, "recall@2") == 0.0
    assert one(run, qrels, "precision@1") == 0.0


def test_binary_metrics_count_grade_one_and_above():
    run = {"q": {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}}
    qrels = {"q": {"a": 0, "b": 2, "d": 1, "e": 1}}
    assert one(run, qrels, "mrr@10") == pytest.approx(1 / 2)
    assert one(run, qrels, "recall@3") == pytest.approx(1 / 3)
    assert one(run, qrels, "recall@10") == pytest.approx(2 / 3)
    assert one(run, qrels, "precision@2") == pytest.approx(1 / 2)
    assert one(run, qrels, "map@10") == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_k_larger_than_run_pads_with_non_relevant():
    run = {"q": {"a": 0.9, "b": 0.1}}
    qrels = {"q": {"a": 1, "z": 1}}
    assert one(run, qrels, "precision@10") == pytest.approx(1 / 10)  # trec_eval P: divide by the cutoff
    assert one(run, qrels, "recall@100") == pytest.approx(1 / 2)
    assert one(run, qrels, "ndcg@100") == pytest.approx(1 / (1 + 1 / L2(3)))


def test_query_without_relevant_documents_scores_zero_and_is_averaged():
    run = {"q1": {"a": 0.9}, "q2": {"a": 0.9, "b": 0.3}}
    qrels = {"q1": {"a": 1}, "q2": {"a": 0, "b": 0}}
    per_q = evaluate_per_query(run, qrels, ["ndcg@10", "recall@10", "map@10", "mrr@10"])
    assert per_q["q2"] == {"ndcg@10": 0.0, "recall@10": 0.0, "map@10": 0.0, "mrr@10": 0.0}
    assert mean_metrics(per_q)["ndcg@10"] == pytest.approx(0.5)  # MTEB: sum / number of evaluated queries


def test_only_queries_in_both_run_and_qrels_are_evaluated():
    run = {"q1": {"a": 1.0}, "unjudged": {"a": 1.0}, "empty": {}}
    qrels = {"q1": {"a": 1}, "missing_from_run": {"a": 1}, "empty": {"a": 2}}
    per_q = evaluate_per_query(run, qrels, ["ndcg@10"])
    assert set(per_q) == {"q1", "empty"}
    assert per_q["empty"]["ndcg@10"] == 0.0  # retrieved nothing


def test_ignore_identical_ids_drops_the_query_itself():
    run = {"q": {"q": 0.99, "a": 0.5, "b": 0.4}}
    qrels = {"q": {"a": 1}}
    assert one(run, qrels, "mrr@10") == pytest.approx(1 / 2)
    assert one(run, qrels, "mrr@10", ignore_identical_ids=True) == 1.0


def test_metric_names_and_errors():
    assert parse_metric("nDCG@10") == ("ndcg", 10)
    assert metric_key("P@5") == "precision@5"
    assert metric_key("MAP@100") == "map@100"
    for bad in ("ndcg", "ndcg@0", "bleu@4"):
        with pytest.raises(EvaluationError, match="ndcg@10"):
            parse_metric(bad)


def test_agrees_with_pytrec_eval_on_random_runs_with_ties():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(7)
    ks = (1, 3, 10)
    names = {
        "ndcg_cut_%d": "ndcg@%d",
        "recall_%d": "recall@%d",
        "map_cut_%d": "map@%d",
        "P_%d": "precision@%d",
    }
    for _ in range(60):
        docs = [f"d{i}" for i in range(rng.randint(1, 25))]
        qrels = {
            f"q{i}": {d: rng.choice([0, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, len(docs)))}
            for i in range(4)
        }
        qrels["q0"]["not_in_corpus"] = 2
        run = {
            q: {d: rng.choice([0.25, 0.5, rng.random()]) for d in rng.sample(docs, rng.randint(0, len(docs)))}
            for q in qrels
        }
        cut = ",".join(map(str, ks))
        ref = pytrec_eval.RelevanceEvaluator(
            qrels, {f"ndcg_cut.{cut}", f"recall.{cut}", f"map_cut.{cut}", f"P.{cut}", "recip_rank"}
        ).evaluate(run)
        mine = evaluate_per_query(run, qrels, [v % k for v in names.values() for k in ks] + ["mrr@1000"])
        assert set(ref) == set(mine)
        for q in ref:
            for t, m in names.items():
                for k in ks:
                    assert mine[q][m % k] == pytest.approx(ref[q][t % k], abs=1e-12)
            assert mine[q]["mrr@1000"] == pytest.approx(ref[q]["recip_rank"], abs=1e-12)


def test_judged_at_k_and_condensed_ndcg_on_a_hand_made_case():
    # ranking a (1), x (unjudged), b (0), c (2), y (unjudged); d (1) judged but never retrieved
    run = {"q": {"a": 0.9, "x": 0.8, "b": 0.7, "c": 0.6, "y": 0.5}}
    qrels = {"q": {"a": 1, "b": 0, "c": 2, "d": 1}}
    assert one(run, qrels, "judged@3") == pytest.approx(2 / 3)  # a, b judged; x not (grade 0 counts as judged)
    assert one(run, qrels, "judged@1") == 1.0
    assert one(run, qrels, "judged@10") == pytest.approx(3 / 5)  # a short run: share of what was retrieved
    idcg3 = 2 / L2(2) + 1 / L2(3) + 1 / L2(4)
    assert one(run, qrels, "ndcg@3") == pytest.approx((1 / L2(2)) / idcg3)
    # condensed: x and y removed -> a, b, c; c now sits at rank 3 inside the cut
    assert one(run, qrels, "ndcg_condensed@3") == pytest.approx((1 / L2(2) + 2 / L2(4)) / idcg3)
    assert metric_key("condensed_ndcg@10") == "ndcg_condensed@10"
    # fully judged top k: condensed equals standard
    full = {"q": {"a": 0.9, "b": 0.8, "c": 0.7}}
    assert one(full, qrels, "ndcg_condensed@3") == one(full, qrels, "ndcg@3")
    assert one({"q": {}}, qrels, "judged@10") == 0.0


def test_evaluation_and_comparison_carry_judged_at_10_beside_unchanged_metrics():
    from core.evaluation.run import compare, evaluate

    qrels = {"q1": {"a": 2, "b": 0}, "q2": {"c": 1}}
    run_a = {"q1": {"a": 0.9, "x": 0.8, "b": 0.7}, "q2": {"c": 0.5, "d": 0.4}}
    run_b = {"q1": {"x": 0.9, "a": 0.8, "b": 0.7}, "q2": {"d": 0.5, "c": 0.4}}
    ev = evaluate(run_a, qrels, ["ndcg@10"])
    assert ev.mean == {"ndcg@10": 1.0} and ev.metrics == ("ndcg@10",)  # requested metrics only
    assert ev.judged_at_10 == pytest.approx((2 / 3 + 1 / 2) / 2)
    cmp = compare(run_a, run_b, qrels, metrics=["ndcg@10"], names=("A", "B"), n_resamples=200)
    assert cmp.a.mean["ndcg@10"] > cmp.b.mean["ndcg@10"]  # B ranks an unjudged result first
    assert cmp.b.condensed_ndcg_at_10 == 1.0  # ...which the condensed list ignores
    assert cmp.judged_at_10 == {"A": ev.judged_at_10, "B": ev.judged_at_10}
    assert cmp.paired_condensed is not None and cmp.paired_condensed.diff == 0.0
    assert [r["model"] for r in cmp.coverage_table()] == ["A", "B"]
    assert cmp.b.column("judged@10") == {"q1": 2 / 3, "q2": 0.5}
