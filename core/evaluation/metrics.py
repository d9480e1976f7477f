"""Retrieval metrics named by strings ("ndcg@10"), computed exactly as trec_eval / pytrec_eval / MTEB do.

Conventions (read from usnistgov/trec_eval ``form_res_rels.c``, ``m_ndcg_cut.c``, ``m_recall.c``,
``m_map_cut.c``, ``m_P.c``, ``m_recip_rank.c``; cvangysel/pytrec_eval ``pytrec_eval.cpp``; and
embeddings-benchmark/mteb ``retrieval_metrics.py`` / ``retrieval_evaluator.py``):

- Ranking: score descending, ties broken by doc id *descending* (trec_eval ``comp_sim_docno`` uses
  ``strcmp(p2->docno, p1->docno)``; Python's str order equals strcmp order on UTF-8 bytes).
- nDCG@k (trec_eval ``ndcg_cut``): linear gain = the qrels grade, discount 1/log2(rank + 1); the ideal
  DCG uses every judged document of the query (retrieved or not) with grade > 0. 0 when nothing is relevant.
- Binary metrics (Recall, MAP, P, MRR): grade >= 1 is relevant (pytrec_eval ``relevance_level=1``).
  Recall@k and MAP@k are 0 for a query without relevant documents; P@k divides by k even when fewer
  than k documents were retrieved (missing ranks count as non-relevant).
- MRR@k: reciprocal rank of the first relevant document within the top k (trec_eval ``recip_rank`` on
  the run cut at k). MTEB's own ``mrr`` breaks score ties by insertion order instead; results differ
  only when a relevant and a non-relevant document have exactly the same score.
- Which queries count (pytrec_eval ``evaluate``): those present in both the run and the qrels.
  Queries with judgments but no relevant document are kept (they score 0), as in MTEB, whose mean is
  ``sum / len(scores)`` over the queries pytrec_eval returned. A qrels query missing from the run is
  skipped (trec_eval without ``-c``); ``run_retrieval`` always returns every query, so none go missing.
- judged@k (not in trec_eval): the share of the run's top-k documents that have a judgment of any grade
  (0 included), over min(k, documents retrieved) -- the same as ir_measures' ``Judged@k`` (P@k with every
  judged document counted) whenever at least k documents were retrieved; 0 for an empty ranking.
- ndcg_condensed@k (Sakai 2007, "condensed lists"): unjudged documents are removed from the ranking first,
  then nDCG@k as above on what is left (same ideal DCG), so a model is neither rewarded nor punished for
  results nobody judged. Equals ndcg@k when the top k is fully judged.
- ``ignore_identical_ids`` (MTEB ``RetrievalEvaluator.evaluate``; on for ArguAna and Quora): a document
  whose id equals the query id is removed from the run before scoring.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping

from core.errors import SearchError

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]

DEFAULT_METRICS: tuple[str, ...] = ("ndcg@10", "mrr@10", "recall@100", "map@100", "precision@10")


class EvaluationError(SearchError):
    """Judgments, runs or metric names that cannot be evaluated (kept a SearchError for existing handlers)."""


def ranked(doc_scores: Mapping[str, float]) -> list[str]:
    """Doc ids in trec_eval order: score descending, ties by doc id descending."""
    return [d for d, _ in sorted(doc_scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def ndcg(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """trec_eval ndcg_cut: linear gain, 1/log2(rank+1) discount, ideal over all judged grades > 0."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]) if judged.get(d, 0) > 0)
    grades = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(grades))
    return dcg / idcg if idcg > 0 else 0.0


def mrr(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant (grade >= 1) document in the top k, else 0."""
    for i, d in enumerate(ranking[:k]):
        if judged.get(d, 0) >= 1:
            return 1.0 / (i + 1)
    return 0.0


def recall(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """Relevant documents in the top k / all relevant documents (0 when none are relevant)."""
    n_rel = sum(1 for g in judged.values() if g >= 1)
    if n_rel == 0:
        return 0.0
    return sum(1 for d in ranking[:k] if judged.get(d, 0) >= 1) / n_rel


def average_precision(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """trec_eval map_cut: sum of precision at each relevant rank <= k, divided by all relevant documents."""
    n_rel = sum(1 for g in judged.values() if g >= 1)
    if n_rel == 0:
        return 0.0
    hits, total = 0, 0.0
    for i, d in enumerate(ranking[:k]):
        if judged.get(d, 0) >= 1:
            hits += 1
            total += hits / (i + 1)
    return total / n_rel


def precision(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """Relevant documents in the top k divided by k (trec_eval P: short runs are padded with non-relevant)."""
    return sum(1 for d in ranking[:k] if judged.get(d, 0) >= 1) / k


def judged_at_k(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """Share of the top k (or of the whole ranking when shorter) that has a judgment of any grade."""
    top = ranking[:k]
    return sum(1 for d in top if d in judged) / len(top) if top else 0.0


def ndcg_condensed(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """Condensed-list nDCG@k (Sakai 2007): unjudged documents removed from the ranking, then cut at k."""
    return ndcg([d for d in ranking if d in judged], judged, k)


METRICS: dict[str, Callable[[list[str], Mapping[str, int], int], float]] = {
    "ndcg": ndcg,
    "mrr": mrr,
    "recall": recall,
    "map": average_precision,
    "precision": precision,
    "judged": judged_at_k,
    "ndcg_condensed": ndcg_condensed,
}
_ALIASES = {
    "p": "precision", "r": "recall", "ap": "map", "rr": "mrr", "recip_rank": "mrr",
    "condensed_ndcg": "ndcg_condensed", "cndcg": "ndcg_condensed",
}  # fmt: skip
_NAME = re.compile(r"^\s*([a-z_]+)\s*@\s*(\d+)\s*$")


def parse_metric(name: str) -> tuple[str, int]:
    """'nDCG@10' -> ('ndcg', 10); raises EvaluationError listing the valid names."""
    m = _NAME.match(name.lower())
    base = _ALIASES.get(m.group(1), m.group(1)) if m else ""
    if not m or base not in METRICS or int(m.group(2)) < 1:
        raise EvaluationError(
            f"Unknown metric {name!r}: use one of {sorted(METRICS)} followed by '@k' with k >= 1, e.g. 'ndcg@10'."
        )
    return base, int(m.group(2))


def metric_key(name: str) -> str:
    """Canonical lowercase key for a metric name ('P@10' -> 'precision@10')."""
    base, k = parse_metric(name)
    return f"{base}@{k}"


def drop_identical_ids(run: Mapping[str, Mapping[str, float]]) -> Run:
    """A copy of the run without the document whose id equals the query id (MTEB ignore_identical_ids)."""
    return {q: {d: s for d, s in docs.items() if d != q} for q, docs in run.items()}


def evaluate_per_query(
    run: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: Iterable[str] = DEFAULT_METRICS,
    *,
    ignore_identical_ids: bool = False,
) -> dict[str, dict[str, float]]:
    """{qid: {metric: value}} for the queries in both the run and the qrels (pytrec_eval's rule)."""
    parsed = [(metric_key(m), *parse_metric(m)) for m in metrics]
    if not parsed:
        raise EvaluationError("No metrics requested: pass names such as ['ndcg@10', 'recall@100'].")
    if ignore_identical_ids:
        run = drop_identical_ids(run)
    out: dict[str, dict[str, float]] = {}
    for qid, docs in run.items():
        judged = qrels.get(qid)
        if judged is None:
            continue
        ranking = ranked(docs)
        out[qid] = {key: METRICS[base](ranking, judged, k) for key, base, k in parsed}
    return out


def mean_metrics(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Arithmetic mean of each metric over the evaluated queries (MTEB: sum / number of queries)."""
    if not per_query:
        return {}
    keys = next(iter(per_query.values())).keys()
    n = len(per_query)
    return {k: sum(v[k] for v in per_query.values()) / n for k in keys}
