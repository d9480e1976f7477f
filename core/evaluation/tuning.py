"""The weight of a convex hybrid (``hybrid:X+Y@w``), chosen by k-fold cross-validation on judged queries.

Choosing ``w`` on the queries you then report is overfitting: the weight bends to those very queries and
their nDCG overstates what the hybrid does on the next ones. So the judged queries are split into k folds;
for each fold, ``w`` is picked from the grid by mean nDCG@10 on the other folds (training) and the fold's
own nDCG@10 is measured with that ``w`` (held out). The held-out figures are the honest estimate; how much
the chosen weights move between folds says how stable the choice is. The weight chosen on all queries
(``final_weight``) is the one to run on new queries, never a number to report on these.

Runs are plain ``{query_id: {doc_id: score}}`` dicts (each side's deep list, e.g. top 100), qrels
``{query_id: {doc_id: grade}}``, as BEIR and ranx shape them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.evaluation.metrics import EvaluationError, ndcg, ranked
from core.search import convex

DEFAULT_GRID = tuple(round(0.1 * i, 1) for i in range(11))  # 0.0, 0.1, ..., 1.0
OVERFITTING_NOTE = (
    "The weight was chosen by {folds}-fold cross-validation: each fold's nDCG@{k} is measured with a weight "
    "picked on the other folds only. Tuning the weight on the same queries you report is overfitting: the "
    "nDCG at the weight that is best on all {queries} queries ({best:.4f} at w = {final:g}) overstates what the "
    "hybrid will do on new queries; report the held-out mean ({heldout:.4f}) instead."
)


@dataclass(frozen=True)
class Fold:
    """One fold: the weight picked on the training folds, its training nDCG, and the held-out nDCG."""

    weight: float
    train_ndcg: float
    heldout_ndcg: float
    queries: tuple[str, ...]  # the held-out query ids


@dataclass(frozen=True)
class WeightTuning:
    """Cross-validated choice of a convex hybrid's weight (on the first system)."""

    folds: tuple[Fold, ...]
    grid: tuple[float, ...]
    k: int
    final_weight: float  # picked on all judged queries: for new queries, not for reporting
    in_sample_ndcg: float  # nDCG@k at final_weight on all queries: optimistic by construction
    curve: dict[float, float]  # mean nDCG@k over all queries per grid weight (for a chart)
    note: str

    @property
    def heldout_ndcg(self) -> float:
        """Mean held-out nDCG@k over all queries (each query counted once, in its own fold)."""
        n = sum(len(f.queries) for f in self.folds)
        return sum(f.heldout_ndcg * len(f.queries) for f in self.folds) / n if n else 0.0

    @property
    def weights(self) -> tuple[float, ...]:
        """The weight each fold chose."""
        return tuple(f.weight for f in self.folds)


def _per_query(
    run_a: Mapping[str, Mapping[str, float]],
    run_b: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    qids: Sequence[str],
    grid: Sequence[float],
    k: int,
) -> np.ndarray:
    """nDCG@k of the fused run, shape (len(grid), len(qids))."""
    out = np.zeros((len(grid), len(qids)))
    for j, q in enumerate(qids):
        a, b, judged = run_a.get(q, {}), run_b.get(q, {}), qrels[q]
        for i, w in enumerate(grid):
            out[i, j] = ndcg(ranked(convex(a, b, weight=w)), judged, k)
    return out


def _best(scores: np.ndarray, grid: Sequence[float]) -> int:
    """Index of the grid weight with the highest mean; ties go to the weight nearest 0.5 (no side favoured)."""
    means = scores.mean(axis=1)
    top = np.flatnonzero(np.isclose(means, means.max(), rtol=0, atol=1e-12))
    return min((int(i) for i in top), key=lambda i: (abs(grid[i] - 0.5), grid[i]))


def tune_weight(
    run_a: Mapping[str, Mapping[str, float]],
    run_b: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    folds: int = 5,
    grid: Sequence[float] = DEFAULT_GRID,
    k: int = 10,
    seed: int = 0,
) -> WeightTuning:
    """Pick the convex weight on the first system by ``folds``-fold cross-validation over judged query ids.

    Args:
        run_a, run_b: Each system's deep list per query, ``{query_id: {doc_id: score}}``.
        qrels: ``{query_id: {doc_id: grade}}``; queries with no relevant document take no part.
        folds: Number of folds (at least 2, at most the number of judged queries).
        grid: Candidate weights in 0..1.
        k: nDCG cut-off.
        seed: Seed of the shuffle that assigns queries to folds.

    Returns:
        The weight chosen per fold with its held-out nDCG@k, the weight chosen on all queries, and a note
        saying that tuning on the reported queries is overfitting.

    Raises:
        EvaluationError: too few judged queries for the folds, or a weight outside 0..1.
    """
    grid = tuple(float(w) for w in grid)
    if not grid or any(not 0.0 <= w <= 1.0 for w in grid):
        raise EvaluationError(f"Weight grid {list(grid)} must be non-empty, every weight in 0..1.")
    qids = sorted(q for q, judged in qrels.items() if any(g > 0 for g in judged.values()))
    if folds < 2 or len(qids) < folds:
        raise EvaluationError(
            f"Cannot cross-validate with {folds} folds over {len(qids)} judged queries: use 2 <= folds <= "
            f"{max(len(qids), 2)} (judge more queries: each fold needs at least one)."
        )
    scores = _per_query(run_a, run_b, qrels, qids, grid, k)
    order = np.random.default_rng(seed).permutation(len(qids))
    out = []
    for test in np.array_split(order, folds):
        train = np.setdiff1d(order, test)
        i = _best(scores[:, train], grid)
        out.append(
            Fold(
                weight=grid[i],
                train_ndcg=float(scores[i, train].mean()),
                heldout_ndcg=float(scores[i, test].mean()),
                queries=tuple(qids[t] for t in sorted(test)),
            )
        )
    final = _best(scores, grid)
    curve = {w: float(m) for w, m in zip(grid, scores.mean(axis=1), strict=True)}
    result = WeightTuning(
        folds=tuple(out),
        grid=grid,
        k=k,
        final_weight=grid[final],
        in_sample_ndcg=curve[grid[final]],
        curve=curve,
        note="",
    )
    note = OVERFITTING_NOTE.format(
        folds=folds,
        k=k,
        queries=len(qids),
        best=result.in_sample_ndcg,
        final=result.final_weight,
        heldout=result.heldout_ndcg,
    )
    return replace(result, note=note)
