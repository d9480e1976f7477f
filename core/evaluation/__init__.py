"""Evaluation: judged runs of a model, metrics as trec_eval computes them, paired significance, the verdict in words."""

from __future__ import annotations

from core.evaluation.decide import MAX_JUDGED_GAP, Verdict, pretty_metric, verdict
from core.evaluation.metrics import EvaluationError, Qrels, Run, metric_key, ndcg, parse_metric, ranked
from core.evaluation.run import (
    IDENTICAL_ID_TASKS,
    Comparison,
    DocIdRule,
    align_doc_ids,
    by_group,
    choose_doc_key,
    compare,
    doc_key,
    evaluate,
    language_pairs,
    run_retrieval,
    short_lang,
)

__all__ = [
    "MAX_JUDGED_GAP",
    "Comparison",
    "DocIdRule",
    "EvaluationError",
    "IDENTICAL_ID_TASKS",
    "Qrels",
    "Run",
    "Verdict",
    "align_doc_ids",
    "by_group",
    "choose_doc_key",
    "compare",
    "doc_key",
    "evaluate",
    "language_pairs",
    "metric_key",
    "ndcg",
    "parse_metric",
    "pretty_metric",
    "ranked",
    "run_retrieval",
    "short_lang",
    "verdict",
]
