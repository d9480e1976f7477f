"""The cost/quality frontier: dimensions x precision x index, measured on stored full-dimension vectors.

Every configuration reduces the stored vectors to d dims by one of the model's reductions (core.dims: the prefix cut,
Matryoshka-trained or post-hoc, or the PCA rotation then the prefix cut), renormalises, quantises
(core.frontier.quantize) and searches; nothing is re-embedded. Each row carries its reduction. Recall@k is against the model's own full-dimension float32 exact top-k; nDCG@10 when
judgments are given. Then: the Pareto front (max recall, min bytes), the equal-budget readout (the best
configuration of one model that costs no more than the other's default); the cost at a target scale is
core.frontier.cost's.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

import numpy as np

from core.dims import PCA, PREFIX, ReductionId, check_reduction, reduction_label
from core.errors import DashboardError, SearchError
from core.evaluation import ndcg
from core.frontier.exact import exact_lists
from core.frontier.quantize import (
    DEFAULT_RESCORE_MULTIPLIER,
    PRECISIONS,
    SCORING_NOTE,
    Precision,
    build_flat,
    bytes_per_vector,
    check_precision,
)
from core.search import HnswIndex, IndexParams, ModelIndex, exact_search, recall_at_k, truncate
from core.types import Progress

IndexKind = Literal["exact", "hnsw"]
Cancel = Callable[[], bool] | threading.Event
NOT_MRL_NOTE = (
    "not trained for truncation: below full dimension each configuration is measured twice, by post-hoc truncation "
    "(the first d dims, renormalised) and by PCA rotation (rotated onto the principal directions of this corpus's "
    "vectors, fitted once and stored, then the first d dims); queries are rotated the same way"
)
PCA_NOTE = (
    "PCA rotation rows: recall against the rotated vectors' own full-dimension float32 exact top-k, which is the "
    "model's own (an orthogonal rotation does not change a cosine); p50 / p95 leave out rotating the query (one "
    "full-dim x d product)"
)
_NDCG_DEPTH = 10


class SweepCancelled(DashboardError):
    """The sweep was cancelled between configurations; ``partial`` holds what was measured."""

    def __init__(self, partial: tuple[Measurement, ...]) -> None:
        super().__init__(f"Sweep cancelled after {len(partial)} configurations; start it again to finish.")
        self.partial = partial


@dataclass(frozen=True)
class Measurement:
    """One configuration of one model and what it measured."""

    model: str
    dims: int
    precision: Precision
    index: IndexKind
    bytes_per_vector: int  # stored vector bytes (precision x dims)
    index_bytes: int  # measured for HNSW (hnswlib's file size: vectors + graph), computed for flat
    count: int
    recall: float  # recall@k vs the model's own full-dim float32 exact top-k
    ndcg10: float | None
    p50_ms: float
    p95_ms: float
    build_seconds: float | None  # HNSW only
    pareto: bool = False
    reduction: ReductionId = PREFIX  # how the vectors got to ``dims`` (core.dims): "prefix" or "pca"

    @property
    def bytes_per_element(self) -> float:
        """Index memory per vector: the stored vector plus, for HNSW, its share of the graph."""
        return self.index_bytes / max(self.count, 1)

    @property
    def label(self) -> str:
        """E.g. '256 int8 exact', '128 float32 hnsw PCA' (a PCA rotation row)."""
        return f"{self.dims} {self.precision} {self.index}" + (" PCA" if self.reduction == PCA else "")

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON shape (plus index bytes, build time and the Pareto flag)."""
        return {
            "dims": self.dims,
            "reduction": self.reduction,
            "precision": self.precision,
            "index": self.index,
            "bytes_per_vector": self.bytes_per_vector,
            "recall@k": round(self.recall, 4),
            "ndcg@10": None if self.ndcg10 is None else round(self.ndcg10, 4),
            "p50_ms": round(self.p50_ms, 4),
            "p95_ms": round(self.p95_ms, 4),
            "index_bytes": self.index_bytes,
            "build_seconds": None if self.build_seconds is None else round(self.build_seconds, 3),
            "pareto": self.pareto,
        }


@dataclass(frozen=True)
class Judged:
    """Judgments aligned with the query rows: the doc id of every chunk, and per query {doc_id: grade} (or None)."""

    doc_ids: Sequence[str]
    qrels: Sequence[Mapping[str, int] | None]


@dataclass(frozen=True)
class Sweep:
    """One model's measured configurations."""

    model: str
    k: int
    queries: int
    full_dim: int
    mrl_trained: bool
    rows: tuple[Measurement, ...]
    notes: tuple[str, ...] = field(default=())

    def default(self) -> Measurement | None:
        """The model's default configuration: full dimension, float32, exact (its stored vectors as they are)."""
        return next(
            (
                r
                for r in self.rows
                if r.dims == self.full_dim
                and r.precision == "float32"
                and r.index == "exact"
                and r.reduction == PREFIX
            ),
            None,
        )

    def reduction_label(self, row: Measurement) -> str:
        """How ``row`` got to its dims, in the words the pages use: "Matryoshka-trained", "post-hoc truncation",
        "PCA rotation" (or "full dimension" for an unreduced row)."""
        if row.dims == self.full_dim and row.reduction == PREFIX:
            return "full dimension"
        return reduction_label(row.reduction, trained=self.mrl_trained)


def _cancelled(cancel: Cancel | None) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


LATENCY_MIN_QUERIES = 5
LATENCY_BUDGET_S = 0.1


def _latency(
    search: Callable[[np.ndarray], object],
    queries: np.ndarray,
    *,
    least: int = LATENCY_MIN_QUERIES,
    budget_s: float = LATENCY_BUDGET_S,
) -> tuple[float, float]:
    """p50 and p95 single-query milliseconds: one untimed warm-up query, then the queries one at a time.

    Stops early once at least ``least`` are timed and they took ``budget_s`` together (a slow configuration is
    timed on fewer queries; none on fewer than ``least``, or all of them when there are fewer).
    """
    if not len(queries):
        return float("nan"), float("nan")
    search(queries[:1])
    ms: list[float] = []
    for i in range(len(queries)):
        t0 = time.perf_counter()
        search(queries[i : i + 1])
        ms.append((time.perf_counter() - t0) * 1e3)
        if len(ms) >= least and sum(ms) >= budget_s * 1e3:
            break
    return statistics.median(ms), float(np.percentile(ms, 95))


def latency_note(latency_queries: int) -> str:
    """How p50 / p95 are measured, in words (the sweep's notes; the page shows them)."""
    return (
        f"p50 / p95: single queries (perf_counter) on each configuration's own index, after one untimed warm-up "
        f"query: the first {latency_queries} queries, or fewer (never under {LATENCY_MIN_QUERIES}) once they "
        f"took {LATENCY_BUDGET_S:g} s together"
    )


def _ndcg(rows: np.ndarray, judged: Judged | None) -> float | None:
    """Mean nDCG@10 over judged queries; a document ranks where its best chunk ranks."""
    if judged is None:
        return None
    values = []
    for row, qrels in zip(rows.tolist(), judged.qrels, strict=True):
        if not qrels:
            continue
        ranking = list(dict.fromkeys(judged.doc_ids[i] for i in row if i >= 0))
        values.append(ndcg(ranking, qrels, _NDCG_DEPTH))
    return float(np.mean(values)) if values else None


def _strip_self(idx: np.ndarray, exclude: np.ndarray | None, k: int) -> np.ndarray:
    """HNSW rows without each pseudo-query's own row, cut to k."""
    if exclude is None:
        return idx[:, :k]
    return np.array(
        [[j for j in row if j != ex][:k] for row, ex in zip(idx.tolist(), exclude.tolist(), strict=True)]
    )


HNSW_FLOAT16_NOTE = (
    "one graph per dimension: the float32 graph holding its vectors rounded through float16 (hnswlib "
    "stores float32 only; a graph built on the rounded values would differ only where a rounding of at most 2^-11 "
    "flips a neighbour choice), so recall is that of float16 values over it, latency that of a float32 graph; "
    "bytes per vector counted at 2 per dimension, index bytes = hnswlib's measured size minus 2 bytes per "
    "dimension per vector"
)
HNSW_FLOAT32_NOTE = (
    "hnswlib graph over the float32 vectors, built once per dimension (the model's own index at that dimension, "
    "kept in the store, when swept through sweep_index: a second sweep loads it); index bytes = hnswlib's measured "
    "size; build seconds = the time to get the graph (built, or loaded)"
)


def method(precision: Precision, index: IndexKind) -> str:
    """How a configuration is stored, searched and counted, in words (page, CLI notes and JSON)."""
    if index == "exact":
        return SCORING_NOTE[precision]
    return HNSW_FLOAT16_NOTE if precision == "float16" else HNSW_FLOAT32_NOTE


@dataclass
class _Pending:
    """A measured configuration waiting for the full-dimension truth (known after the last stop)."""

    dims: int
    precision: Precision
    index: IndexKind
    top: np.ndarray
    deep: np.ndarray
    p50: float
    p95: float
    index_bytes: int
    build_seconds: float | None = None


def sweep(
    vectors: np.ndarray,
    queries: np.ndarray,
    *,
    model: str,
    dims: Sequence[int],
    k: int = 10,
    precisions: Sequence[str] = PRECISIONS,
    hnsw: bool = True,
    params: IndexParams = IndexParams(),
    exclude: np.ndarray | None = None,
    judged: Judged | None = None,
    latency_queries: int = 20,
    rescore_multiplier: int = DEFAULT_RESCORE_MULTIPLIER,
    mrl_trained: bool = True,
    reduction: str = PREFIX,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    graphs: Callable[[int], HnswIndex] | None = None,
) -> Sweep:
    """Every (d, precision) exact, then float32 and float16 HNSW at every d; cancellable between configurations.

    One HNSW graph per dimension: float32 HNSW searches it, float16 HNSW searches the same graph holding the
    float16-rounded values (``HNSW_FLOAT16_NOTE``); ``graphs(d)`` supplies it (``sweep_index``: the model's own
    index at d, built once and kept in the store), else it is built here over the truncated vectors.

    ``vectors`` are the stored full-dim unit vectors, ``queries`` full-dim query vectors (rows of ``exclude``,
    one per query, are never returned: pseudo-queries). Result lists for recall and nDCG come from one batched
    pass over the dimensions (core.frontier.exact); latency from single queries on each configuration's own
    index, up to the first ``latency_queries`` (see ``latency_note``).

    Args:
        vectors: The stored full-dimension unit vectors, (n, dim) (``ModelIndex.vectors``).
        queries: Full-dimension query vectors, one row per query.
        model: The model's name, carried into every Measurement.
        dims: The dimensions to measure (``ModelIndex.swept_dims``: the rule is in ``core.dims``).
        k: Depth of recall@k against the float32 exact full-dimension lists.
        precisions: Any of "float32", "float16", "int8", "binary", "binary+rescore".
        hnsw: Also measure float32 and float16 HNSW indexes at every dimension.
        params: HNSW parameters.
        exclude: Per query, a chunk row never returned (the query's own chunk when chunks are the queries).
        judged: Judgments aligned with the query rows; with them every row also gets nDCG@10.
        latency_queries: How many queries time each configuration (p50 / p95).
        rescore_multiplier: binary+rescore fetches ``k * rescore_multiplier`` candidates to rescore.
        mrl_trained: False adds a note that the model was not trained for truncation.
        reduction: The reduction every row carries: "prefix", or "pca" when ``vectors`` and ``queries`` are
            PCA-rotated already (``sweep_index`` does it).
        progress: Called as ``progress(done, total, rate)`` after each configuration.
        cancel: A callable or Event; when set, the sweep stops between configurations.
        graphs: The float32 HNSW graph over ``truncate(vectors, d)`` for a dimension d (None: built here).

    Returns:
        The Sweep: one Measurement per configuration (recall, nDCG@10, bytes per vector, p50 / p95 ms,
        Pareto flag) and notes on how they were measured.

    Raises:
        SearchError: bad shapes, dims outside 1..dim, an unknown precision or a bad rescore multiplier.
        SweepCancelled: ``cancel`` was set; its ``partial`` holds what was measured.
    """
    red = check_reduction(reduction)
    docs = np.ascontiguousarray(vectors, dtype=np.float32)
    if docs.ndim != 2 or docs.shape[0] == 0:
        raise SearchError(f"vectors must be a non-empty (n, dim) matrix, got shape {docs.shape}")
    q_full = truncate(np.atleast_2d(queries), docs.shape[1])
    if q_full.shape[0] == 0:
        raise SearchError("No queries to measure with: give query vectors or use chunks as pseudo-queries.")
    n, full = docs.shape
    stops = sorted({int(d) for d in dims})
    if not stops or stops[0] < 1 or stops[-1] > full:
        raise SearchError(f"dims must lie in 1..{full}, got {list(dims)}")
    precs = list(dict.fromkeys(check_precision(p) for p in precisions))
    if (
        isinstance(rescore_multiplier, bool)
        or not isinstance(rescore_multiplier, int)
        or rescore_multiplier < 1
    ):
        raise SearchError(f"rescore_multiplier must be a positive integer, got {rescore_multiplier!r}")
    avail = n - (exclude is not None)
    if avail < 1:
        raise SearchError("Pseudo-queries need at least 2 chunks: there is nothing else to return.")
    kk = min(k, avail)
    depth = min(avail, max(kk, 5 * _NDCG_DEPTH)) if judged is not None else kk
    lat_q = q_full[: min(max(latency_queries, 0), q_full.shape[0])]
    total = len(stops) * (len(precs) + (2 if hnsw else 0))
    done: list[_Pending] = []
    truth: np.ndarray | None = None
    t_start = time.perf_counter()

    def finish(rows: list[_Pending]) -> list[Measurement]:
        t = truth if truth is not None else exact_search(docs, q_full, kk, exclude=exclude)[0]
        return [
            Measurement(
                model=model,
                dims=r.dims,
                precision=r.precision,
                index=r.index,
                bytes_per_vector=bytes_per_vector(r.dims, r.precision),
                index_bytes=int(r.index_bytes),
                count=n,
                recall=recall_at_k(t, r.top, k=kk),
                ndcg10=_ndcg(r.deep, judged),
                p50_ms=r.p50,
                p95_ms=r.p95,
                build_seconds=r.build_seconds,
                reduction=red,
            )
            for r in rows
        ]

    def record(row: _Pending) -> None:
        done.append(row)
        if progress is not None:
            elapsed = time.perf_counter() - t_start
            progress(len(done), total, len(done) / elapsed if elapsed > 0 else 0.0)

    def check() -> None:
        if _cancelled(cancel):
            raise SweepCancelled(tuple(pareto_mark(finish(done))))

    passes = exact_lists(
        docs,
        q_full,
        stops=stops,
        precisions=precs,
        k=kk,
        depth=depth,
        exclude=exclude,
        rescore_multiplier=rescore_multiplier,
    )
    for at in passes:
        if at.dims == full:
            truth = at.lists["float32"]
        if at.dims not in stops:
            continue
        d, lat_d = at.dims, truncate(lat_q, at.dims)
        int8 = None if at.int8_codes is None or at.ranges is None else (at.int8_codes, at.ranges)
        float_timing: tuple[float, float] | None = None
        for prec in precs:
            check()
            if prec in ("float32", "float16", "int8"):
                # float16 / int8 search a float32 matrix of this shape (their scoring copy) with float32's code,
                # and BLAS time does not depend on the values: the float32 matrix is timed once for all three
                if float_timing is None:
                    float_timing = _latency(partial(build_flat(at.vectors, "float32").search, k=kk), lat_d)
                p50, p95 = float_timing
            else:
                flat = build_flat(
                    at.vectors, prec, int8=int8, bits=at.bits, rescore_multiplier=rescore_multiplier
                )
                p50, p95 = _latency(partial(flat.search, k=kk), lat_d)
            stored = n * bytes_per_vector(d, prec)
            record(_Pending(d, prec, "exact", at.lists[prec], at.deep[prec], p50, p95, stored))
        check()
    for d in stops if hnsw else ():
        qd = truncate(q_full, d)
        check()
        t0 = time.perf_counter()
        if graphs is not None:
            vd = None
            base = graphs(d)
        else:
            vd = truncate(docs, d)
            base = HnswIndex.build(vd, params=params)
        base_s = time.perf_counter() - t0
        for prec in ("float32", "float16"):
            check()
            t0 = time.perf_counter()
            if prec == "float32":
                graph = base
            else:  # the float32 graph holding the float16-rounded values: no second build (HNSW_FLOAT16_NOTE)
                vd = truncate(docs, d) if vd is None else vd
                graph = base.with_values(vd.astype(np.float16).astype(np.float32))
            build_s = base_s + time.perf_counter() - t0
            extra = 1 if exclude is not None else 0
            want = min(n, depth + extra)
            found = graph.search(qd, k=want, ef=max(params.ef_search, want))[0]
            deep = _strip_self(found, exclude, depth)
            p50, p95 = _latency(partial(graph.search, k=kk + extra), qd[: lat_q.shape[0]])
            saved = 0 if prec == "float32" else 2 * d * n  # a float16 store holds 2 bytes less per dimension
            record(_Pending(d, prec, "hnsw", deep[:, :kk], deep, p50, p95, graph.nbytes - saved, build_s))
    notes = [f"{p}: {SCORING_NOTE[p]}" for p in precs]
    notes.append(latency_note(lat_q.shape[0]))
    notes.append(
        "float16 and int8 exact are searched with float32's code on a float32 matrix of the same shape (the "
        "float16 values, the dequantised int8 codes), and BLAS time does not depend on the values: their p50 / p95 "
        "are float32's, measured once at that dimension"
    )
    if hnsw:
        notes.append(
            f"hnsw: hnswlib M={params.M}, ef_construction={params.ef_construction}, ef_search={params.ef_search}; "
            f"float16 hnsw: {HNSW_FLOAT16_NOTE}"
        )
    if not mrl_trained:
        notes.append(f"{model}: {NOT_MRL_NOTE}")
    if red == PCA:
        notes.append(PCA_NOTE)
    return Sweep(
        model=model,
        k=kk,
        queries=int(q_full.shape[0]),
        full_dim=full,
        mrl_trained=mrl_trained,
        rows=tuple(pareto_mark(finish(done))),
        notes=tuple(notes),
    )


def sweep_index(
    mi: ModelIndex,
    queries: np.ndarray,
    *,
    k: int = 10,
    name: str | None = None,
    hnsw: bool = True,
    exclude: np.ndarray | None = None,
    judged: Judged | None = None,
    latency_queries: int = 20,
    rescore_multiplier: int = DEFAULT_RESCORE_MULTIPLIER,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Sweep:
    """``sweep`` of a built index by each of its reductions at its swept dims (core.dims), with its HNSW parameters.

    The one mapping from a ModelIndex to the sweep's arguments, shared by the Frontier page, the CLI and the report.
    Its HNSW rows search the model's own index at each dimension (``ModelIndex.index``: the one Compare and
    Dimensions search, built once and kept in the store; an in-process hnswlib model only, a backend's sweep builds
    its own). A model not trained for truncation is swept twice below full dimension: post-hoc truncation of its stored
    vectors, and the PCA rotation (``ModelIndex.rotation``, fitted once and stored; queries rotated alike); its
    full-dimension rows are measured once (a rotation does not change a full-dimension cosine). One Sweep holds
    all rows, each with its reduction, Pareto-marked together.
    """
    model = name or mi.spec.name
    full = mi.dim
    plans: list[tuple[ReductionId, list[int]]] = []
    for r in mi.reductions:
        dims = mi.swept_dims if r.id == PREFIX else [d for d in mi.swept_dims if d < full]
        if dims:
            plans.append((r.id, dims))
    per_dim = len(PRECISIONS) + (2 if hnsw else 0)
    grand = sum(len(d) for _, d in plans) * per_dim
    q = np.asarray(queries)
    parts: list[Sweep] = []
    for rid, dims in plans:
        offset = sum(len(p.rows) for p in parts)

        def step(done: int, _total: int, rate: float, offset: int = offset) -> None:
            if progress is not None:
                progress(offset + done, grand, rate)

        try:
            parts.append(
                sweep(
                    mi.vectors if rid == PREFIX else mi.vectors_at(full, PCA),
                    q if rid == PREFIX else mi.rotate(q),
                    model=model,
                    dims=dims,
                    k=k,
                    hnsw=hnsw,
                    params=mi.params,
                    exclude=exclude,
                    judged=judged,
                    latency_queries=latency_queries,
                    rescore_multiplier=rescore_multiplier,
                    mrl_trained=bool(mi.spec.mrl_dims),
                    reduction=rid,
                    progress=step,
                    cancel=cancel,
                    graphs=None if mi.backend is not None else partial(_graph_of, mi, rid),
                )
            )
        except SweepCancelled as exc:
            done_rows = [r for p in parts for r in p.rows] + list(exc.partial)
            raise SweepCancelled(tuple(pareto_mark(done_rows))) from None
    first = parts[0]
    rows = [r for p in parts for r in p.rows]
    return replace(
        first,
        rows=tuple(pareto_mark(rows)),
        notes=tuple(dict.fromkeys(n for p in parts for n in p.notes)),
    )


def _graph_of(mi: ModelIndex, reduction: ReductionId, d: int) -> HnswIndex:
    """The model's own hnswlib index at d (from memory, the store, or built into the store; not kept in memory)."""
    idx = mi.index(d, reduction=reduction, keep=False)
    if not isinstance(idx, HnswIndex):  # a backend's index: the sweep builds its own graphs
        raise SearchError(f"{mi.spec.name} at {d} dims is not an hnswlib index")
    return idx


def metric_of(row: Measurement, metric: str) -> float:
    """'recall' or 'ndcg@10' of a row (nan when nDCG was not measured)."""
    if metric == "recall":
        return row.recall
    if metric == "ndcg@10":
        return float("nan") if row.ndcg10 is None else row.ndcg10
    raise SearchError(f"Unknown frontier metric {metric!r}: use 'recall' or 'ndcg@10'.")


def pareto_mark(rows: Sequence[Measurement], *, metric: str = "recall") -> list[Measurement]:
    """Rows with ``pareto`` set where no other row is at most as large (bytes per element) and strictly better."""
    out = []
    for r in rows:
        m, b = metric_of(r, metric), r.bytes_per_element
        dominated = any(
            (o.bytes_per_element <= b and metric_of(o, metric) >= m)
            and (o.bytes_per_element < b or metric_of(o, metric) > m)
            for o in rows
            if o is not r
        )
        out.append(replace(r, pareto=not dominated and not math.isnan(m)))
    return out


def pareto_front(rows: Sequence[Measurement], *, metric: str = "recall") -> list[Measurement]:
    """The Pareto-optimal rows, smallest first."""
    return sorted(
        (r for r in pareto_mark(rows, metric=metric) if r.pareto), key=lambda r: r.bytes_per_element
    )


@dataclass(frozen=True)
class Budget:
    """The best configuration of ``model`` costing no more than ``other``'s default configuration, on ``metric``."""

    model: str
    other: str
    budget_bytes: float
    best: Measurement | None
    other_default: Measurement | None
    metric: str = "recall"
    own_default: Measurement | None = None
    reduction: str = ""  # how ``best`` got to its dims, in words (Sweep.reduction_label); "" says nothing

    @property
    def sentence(self) -> str:
        """The readout in words: recall as the share of the model's own full-dimension top-k it keeps, nDCG@10 as a
        score beside the model's own full-dimension float32 score and the other model's."""
        if self.other_default is None:
            return f"{self.other} has no full-dimension float32 measurement to compare with."
        ref = self.other_default
        tail = f"{self.other} at {ref.dims} float32 costs {self.budget_bytes:,.0f} bytes per vector"
        if self.best is None:
            return (
                f"No configuration of {self.model} fits in {self.budget_bytes:,.0f} bytes per vector; {tail}."
            )
        b = self.best
        how = f", {self.reduction}" if self.reduction and self.reduction != "full dimension" else ""
        head = (
            f"{self.model} at {b.dims} dims {b.precision} ({b.index}{how}) costs {b.bytes_per_element:,.0f} bytes "
            "per vector"
        )
        if self.metric == "recall":
            return f"{head} and keeps {b.recall:.2f} of its full-dimension top-k; {tail}."
        name = "nDCG@10" if self.metric == "ndcg@10" else self.metric
        own = self.own_default
        full = "" if own is None else f" (its full-dimension float32: {metric_of(own, self.metric):.3f})"
        return (
            f"{head} and scores {name} {metric_of(b, self.metric):.3f}{full}; {tail} and scores {name} "
            f"{metric_of(ref, self.metric):.3f}."
        )


def equal_budget(model: Sweep, other: Sweep, *, metric: str = "recall") -> Budget:
    """Best row of ``model`` (by metric, then fewer bytes) with bytes per element <= the other's default."""
    ref = other.default()
    budget = ref.bytes_per_element if ref is not None else float("nan")
    fits = [r for r in model.rows if ref is not None and r.bytes_per_element <= budget]
    fits = [r for r in fits if not math.isnan(metric_of(r, metric))]
    best = max(fits, key=lambda r: (metric_of(r, metric), -r.bytes_per_element), default=None)
    how = "" if best is None else model.reduction_label(best)
    return Budget(model=model.model, other=other.model, budget_bytes=budget, best=best, other_default=ref,
                  metric=metric, own_default=model.default(), reduction=how)  # fmt: skip


def to_json(sweeps: Sequence[Sweep]) -> dict[str, Any]:
    """``{"k", "queries", "models": {name: [row, ...]}, "notes", "methods"}`` as the CLI writes it.

    ``methods``: how each "<precision> <index>" configuration is stored, searched and counted, in words.
    """
    first = sweeps[0] if sweeps else None
    kinds = dict.fromkeys((r.precision, r.index) for s in sweeps for r in s.rows)
    return {
        "k": first.k if first else None,
        "queries": first.queries if first else 0,
        "models": {
            s.model: [{**r.to_json(), "reduction_label": s.reduction_label(r)} for r in s.rows]
            for s in sweeps
        },
        "notes": {s.model: list(s.notes) for s in sweeps},
        "methods": {f"{p} {i}": method(p, i) for p, i in kinds},
    }
