"""Every system in one leaderboard, with statistics that survive many comparisons, and the top group.

Given N systems evaluated on the same judged queries (``core.evaluation.run.evaluate``):

- one row per system: mean nDCG@10, MRR@10, Recall@100, judged@10, latency p50/p95, cost per query (when given),
  index bytes and build seconds, sorted by the deciding metric (nDCG@10 by default);
- paired randomisation (sign-flip) tests on the per-query values of the deciding metric
  (``core.evaluation.significance.paired_test``: two-sided, seeded, with a bootstrap 95% CI), by default of
  every system against the best (N - 1 tests), or of all pairs (N(N - 1) / 2 tests) with ``comparisons="all"``;
- Holm's step-down correction over that family (Holm 1979): sort the m raw p values, multiply the i-th
  smallest (0-based) by m - i, carry the running maximum, cap at 1. It controls the family-wise error at
  ``alpha`` under any dependence between the tests (they share queries, so they are dependent);
- **the top group**: the best system and every system not significantly worse than it (Holm-adjusted p >=
  ``alpha``). A lone winner only when the group holds one system;
- optionally Tukey's HSD (``scipy.stats.tukey_hsd``, as ranx offers) as a second view. It treats the systems'
  per-query values as independent samples, which they are not (the same queries score every system), so it
  ignores the pairing and is usually less sensitive than the paired tests; it is shown beside them, never
  instead of them;
- the same per language pair (or any grouping of the queries): means and the top group within each group,
  tested the same way (a family per group).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np

from core.evaluation.metrics import EvaluationError, Qrels, Run, metric_key
from core.evaluation.run import Evaluation, Latency, SystemRun, evaluate
from core.evaluation.significance import PairedResult, paired_test

LEADERBOARD_METRICS: tuple[str, ...] = ("ndcg@10", "mrr@10", "recall@100")
Comparisons = Literal["best", "all"]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p values, in the order given (the same as R's ``p.adjust(p, "holm")``)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise EvaluationError(f"Holm's correction needs p values between 0 and 1, got {list(p_values)!r}.")
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


@dataclass(frozen=True)
class PairTest:
    """One paired test of the family: A vs B on the deciding metric, raw and Holm-adjusted p."""

    a: str
    b: str
    result: PairedResult  # mean_a, mean_b, diff = A - B, wins/ties/losses, raw p, bootstrap CI
    p_holm: float
    alpha: float = 0.05

    @property
    def significant(self) -> bool:
        """Holm-adjusted p < alpha."""
        return self.p_holm < self.alpha


@dataclass(frozen=True)
class TukeyView:
    """Tukey's HSD over the systems (independent-samples assumption): pairwise p values and its top group."""

    pvalues: dict[tuple[str, str], float]  # both orders of each pair
    top_group: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One system's line of the leaderboard."""

    system: str
    kind: str
    means: dict[str, float]  # every metric evaluated, judged@10 and condensed nDCG@10 included
    latency: Latency | None
    cost_per_query: float | None
    index_bytes: int
    build_seconds: float
    versus_best: PairTest | None  # None for the best system itself
    in_top_group: bool


@dataclass(frozen=True)
class GroupRow:
    """One group of queries (a language pair): its size, each system's mean, and the top group within it."""

    group: str
    queries: int
    means: dict[str, float]
    best: str
    top_group: tuple[str, ...]


@dataclass(frozen=True)
class Leaderboard:
    """N systems on the same queries, ranked on ``metric``, with the Holm-corrected top group."""

    metric: str
    rows: tuple[Row, ...]  # best first
    best: str
    top_group: tuple[str, ...]  # in leaderboard order
    tests: tuple[PairTest, ...]
    comparisons: Comparisons
    alpha: float
    n_resamples: int
    seed: int
    queries: int
    left_out: int = 0  # queries not evaluated for every system, left out of everything
    groups: tuple[GroupRow, ...] = ()
    tukey: TukeyView | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def systems(self) -> tuple[str, ...]:
        """System names, best first."""
        return tuple(r.system for r in self.rows)

    @property
    def correction(self) -> str:
        """The procedure in words, for a caption or a verdict."""
        n = len(self.tests)
        tests = f"{n} test" if n == 1 else f"{n} tests"
        family = f"every system against {self.best}" if self.comparisons == "best" else "all pairs"
        return (
            f"paired randomisation tests of {family} ({tests}, {self.n_resamples:,} sign flips each), "
            f"Holm-corrected at alpha {self.alpha:g}"
        )

    def test(self, a: str, b: str) -> PairTest | None:
        """The family's test of a vs b (either order, figures as stored), or None when it is not in the family."""
        for t in self.tests:
            if {t.a, t.b} == {a, b}:
                return t
        return None

    def table(self) -> list[dict[str, Any]]:
        """One plain row per system: metrics, latency, cost, the test against the best, top-group membership."""
        out = []
        for r in self.rows:
            vs = r.versus_best
            out.append(
                {
                    "system": r.system,
                    "kind": r.kind,
                    **{m: r.means.get(m) for m in (*LEADERBOARD_METRICS, "judged@10")},
                    "latency_p50_ms": r.latency.p50_ms if r.latency else None,
                    "latency_p95_ms": r.latency.p95_ms if r.latency else None,
                    "cost_per_query": r.cost_per_query,
                    "index_bytes": r.index_bytes,
                    "build_seconds": r.build_seconds,
                    f"diff_vs_best_{self.metric}": -vs.result.diff if vs else 0.0,
                    "p_value": vs.result.p_value if vs else None,
                    "p_holm": vs.p_holm if vs else None,
                    "top_group": r.in_top_group,
                }
            )
        return out

    def group_table(self) -> list[dict[str, Any]]:
        """One plain row per group (language pair): queries, each system's mean on ``metric``, the top group."""
        return [
            {"group": g.group, "queries": g.queries, **g.means, "top_group": ", ".join(g.top_group)}
            for g in self.groups
        ]


def _shared_queries(evaluations: Mapping[str, Evaluation]) -> tuple[list[str], int]:
    sets = {name: set(ev.per_query) for name, ev in evaluations.items()}
    shared = set.intersection(*sets.values())
    every = set.union(*sets.values())
    if not shared:
        raise EvaluationError(
            f"The systems {sorted(sets)} share no evaluated query: evaluate every run against the same qrels "
            "and query set."
        )
    return sorted(shared), len(every - shared)


def _column(ev: Evaluation, metric: str, qids: Iterable[str]) -> dict[str, float]:
    col = ev.column(metric)
    return {q: col[q] for q in qids}


def _ranked(columns: Mapping[str, Mapping[str, float]]) -> list[tuple[str, float]]:
    means = {s: float(np.mean(list(c.values()))) for s, c in columns.items()}
    return sorted(means.items(), key=lambda kv: (-kv[1], kv[0]))  # ties: by name, so the order repeats


def _family(
    columns: Mapping[str, Mapping[str, float]],
    *,
    metric: str,
    comparisons: Comparisons,
    alpha: float,
    n_resamples: int,
    seed: int,
) -> tuple[list[tuple[str, float]], list[PairTest], tuple[str, ...]]:
    """(systems ranked by mean, the Holm-corrected tests, the top group) on these per-query columns."""
    order = _ranked(columns)
    best = order[0][0]
    if comparisons == "best":
        pairs = [(best, s) for s, _ in order[1:]]
    else:
        rank = {s: i for i, (s, _) in enumerate(order)}
        pairs = [(a, b) if rank[a] < rank[b] else (b, a) for a, b in combinations(columns, 2)]
        pairs.sort(key=lambda ab: (rank[ab[0]], rank[ab[1]]))
    raw = [
        paired_test(columns[a], columns[b], metric=metric, n_resamples=n_resamples, seed=seed)
        for a, b in pairs
    ]
    adjusted = holm([r.p_value for r in raw]) if raw else []
    tests = [
        PairTest(a, b, r, p, alpha) for (a, b), r, p in zip(pairs, raw, adjusted, strict=True)
    ]  # fmt: skip
    worse = {t.b if t.a == best else t.a for t in tests if best in (t.a, t.b) and t.significant}
    top = tuple(s for s, _ in order if s not in worse)
    return order, tests, top


def tukey_view(columns: Mapping[str, Mapping[str, float]], *, alpha: float = 0.05) -> TukeyView:
    """Tukey's HSD (``scipy.stats.tukey_hsd``) over the systems' per-query values on their shared queries.

    It assumes independent samples with equal variances; per-query values of systems on the same queries are
    paired, so this view throws the pairing away (ranx offers it for many runs). The top group here is the
    best mean and every system whose HSD p value against it is >= ``alpha``."""
    names = list(columns)
    if len(names) < 2:
        raise EvaluationError(f"Tukey's HSD needs at least two systems, got {names}.")
    qids = sorted(set.intersection(*(set(c) for c in columns.values())))
    samples = [np.array([columns[s][q] for q in qids], dtype=np.float64) for s in names]
    from scipy.stats import tukey_hsd  # here: scipy.stats takes seconds to import

    res = tukey_hsd(*samples)
    p: dict[tuple[str, str], float] = {}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                v = float(res.pvalue[i, j])
                p[(a, b)] = 1.0 if math.isnan(v) else v  # nan: no spread and no difference at all
    best = _ranked(columns)[0][0]
    top = tuple(s for s, _ in _ranked(columns) if s == best or p[(best, s)] >= alpha)
    return TukeyView(p, top)


def leaderboard(
    evaluations: Mapping[str, Evaluation],
    *,
    metric: str = "ndcg@10",
    comparisons: Comparisons = "best",
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    seed: int = 0,
    latency: Mapping[str, Latency | None] | None = None,
    cost_per_query: Mapping[str, float | None] | None = None,
    kinds: Mapping[str, str] | None = None,
    index_bytes: Mapping[str, int] | None = None,
    build_seconds: Mapping[str, float] | None = None,
    groups: Mapping[str, str] | None = None,
    tukey: bool = False,
    settings: Mapping[str, str] | None = None,
) -> Leaderboard:
    """Rank N systems evaluated on the same queries and find the top group (see the module docstring).

    Args:
        evaluations: {system name: its Evaluation} (``evaluate``); queries not evaluated for every system are
            left out of everything (``Leaderboard.left_out`` counts them).
        metric: The deciding metric ("ndcg@10"); any metric the evaluations hold, judged@10 included.
        comparisons: "best" (every system against the best; N - 1 tests) or "all" (every pair).
        alpha: Family-wise error rate of the Holm-corrected tests.
        n_resamples: Sign flips per randomisation test (and bootstrap resamples per CI).
        seed: Random seed, so p values and intervals repeat.
        latency, cost_per_query, kinds, index_bytes, build_seconds: Per system, where known.
        groups: {qid: group label} such as ``language_pairs``'s; adds per-group rows.
        tukey: Also compute Tukey's HSD view (``tukey_view``).
        settings: What the runs were made with ({"search": "exact", "dims": "full", "k": "100"}), quoted by
            the verdict.

    Raises:
        EvaluationError: no system, no shared query, an unknown metric, or alpha outside (0, 1).
    """
    if not evaluations:
        raise EvaluationError("A leaderboard needs at least one evaluated system; none was given.")
    if not 0.0 < alpha < 1.0:
        raise EvaluationError(f"alpha must be between 0 and 1 (e.g. 0.05), got {alpha!r}.")
    if comparisons not in ("best", "all"):
        raise EvaluationError(f"comparisons must be 'best' or 'all', got {comparisons!r}.")
    key = metric_key(metric)
    qids, left_out = _shared_queries(evaluations)
    columns = {s: _column(ev, key, qids) for s, ev in evaluations.items()}

    def family(
        cols: Mapping[str, Mapping[str, float]],
    ) -> tuple[list[tuple[str, float]], list[PairTest], tuple[str, ...]]:
        return _family(
            cols, metric=key, comparisons=comparisons, alpha=alpha, n_resamples=n_resamples, seed=seed
        )

    order, tests, top = family(columns)
    best = order[0][0]
    vs_best = {t.b if t.a == best else t.a: t for t in tests if best in (t.a, t.b)}
    rows = []
    for s, _ in order:
        ev = evaluations[s]
        means = {m: float(np.mean([ev.per_query[q][m] for q in qids])) for m in ev.metrics}
        means |= {m: float(np.mean([ev.coverage[q][m] for q in qids])) for m in ev.coverage_mean}
        rows.append(
            Row(
                system=s,
                kind=(kinds or {}).get(s, ""),
                means=means,
                latency=(latency or {}).get(s),
                cost_per_query=(cost_per_query or {}).get(s),
                index_bytes=int((index_bytes or {}).get(s, 0)),
                build_seconds=float((build_seconds or {}).get(s, 0.0)),
                versus_best=vs_best.get(s),
                in_top_group=s in top,
            )
        )
    group_rows = []
    if groups is not None and len(columns) > 1:
        members: dict[str, list[str]] = {}
        for q in qids:
            members.setdefault(groups.get(q, "unknown"), []).append(q)
        for g, gq in sorted(members.items()):
            sub = {s: {q: c[q] for q in gq} for s, c in columns.items()}
            g_order, _, g_top = family(sub)
            group_rows.append(GroupRow(g, len(gq), dict(g_order), g_order[0][0], g_top))
    return Leaderboard(
        metric=key,
        rows=tuple(rows),
        best=best,
        top_group=top,
        tests=tuple(tests),
        comparisons=comparisons,
        alpha=alpha,
        n_resamples=n_resamples,
        seed=seed,
        queries=len(qids),
        left_out=left_out,
        groups=tuple(group_rows),
        tukey=tukey_view(columns, alpha=alpha) if tukey and len(columns) > 1 else None,
        settings=dict(settings or {}),
    )


def leaderboard_of_runs(
    runs: Mapping[str, Run | SystemRun],
    qrels: Qrels,
    *,
    metrics: Iterable[str] = LEADERBOARD_METRICS,
    ignore_identical_ids: bool = False,
    **options: Any,
) -> Leaderboard:
    """``evaluate`` each run on ``qrels`` (with judged@10), then ``leaderboard``; a SystemRun brings its kind,
    latency, index bytes and build seconds (``options`` given explicitly win). Other options as ``leaderboard``."""
    evaluations: dict[str, Evaluation] = {}
    known: dict[str, dict[str, Any]] = {"kinds": {}, "latency": {}, "index_bytes": {}, "build_seconds": {}}
    for name, r in runs.items():
        run = r.run if isinstance(r, SystemRun) else r
        evaluations[name] = evaluate(run, qrels, metrics, ignore_identical_ids=ignore_identical_ids)
        if isinstance(r, SystemRun):
            known["kinds"][name] = r.kind
            known["latency"][name] = r.latency
            known["index_bytes"][name] = r.index_bytes
            known["build_seconds"][name] = r.build_seconds
    for k, v in known.items():
        options.setdefault(k, v)
    return leaderboard(evaluations, **options)
