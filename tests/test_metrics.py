"""Metrics on hand-computed toy runs, checked against trec_eval's conventions (and pytrec_eval when installed)."""

import math
import random

import pytest

from core.metrics import (
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
