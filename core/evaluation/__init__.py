"""Evaluation: judged runs of a model or any system, metrics as trec_eval computes them, paired significance,
the leaderboard of N systems with its Holm-corrected top group, the verdict in words."""

from __future__ import annotations

from core.evaluation.decide import (
    MAX_JUDGED_GAP,
    GroupVerdict,
    Verdict,
    leaderboard_verdict,
    pretty_metric,
    verdict,
)
from core.evaluation.leaderboard import (
    LEADERBOARD_METRICS,
    Leaderboard,
    PairTest,
    holm,
    leaderboard,
    leaderboard_of_runs,
    tukey_view,
)
from core.evaluation.metrics import EvaluationError, Qrels, Run, metric_key, ndcg, parse_metric, ranked
from core.evaluation.ranking import Ranking, rank_systems
from core.evaluation.run import (
    IDENTICAL_ID_TASKS,
    Comparison,
    DocIdRule,
    Evaluation,
    Latency,
    SystemRun,
    align_doc_ids,
    by_group,
    choose_doc_key,
    compare,
    doc_key,
    evaluate,
    language_pairs,
    run_retrieval,
    run_system,
    short_lang,
)
from core.evaluation.significance import bootstrap_ci
from core.evaluation.tuning import WeightTuning, tune_weight

__all__ = [
    "Ranking",
    "rank_systems",
    "IDENTICAL_ID_TASKS",
    "LEADERBOARD_METRICS",
    "MAX_JUDGED_GAP",
    "Comparison",
    "DocIdRule",
    "Evaluation",
    "EvaluationError",
    "GroupVerdict",
    "Latency",
    "Leaderboard",
    "PairTest",
    "SystemRun",
    "Qrels",
    "Run",
    "Verdict",
    "align_doc_ids",
    "bootstrap_ci",
    "by_group",
    "choose_doc_key",
    "compare",
    "doc_key",
    "evaluate",
    "holm",
    "language_pairs",
    "leaderboard",
    "leaderboard_of_runs",
    "leaderboard_verdict",
    "metric_key",
    "ndcg",
    "parse_metric",
    "pretty_metric",
    "ranked",
    "run_retrieval",
    "run_system",
    "short_lang",
    "tukey_view",
    "verdict",
    "WeightTuning",
    "tune_weight",
]
