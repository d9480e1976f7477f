"""Judged evaluation of a ModelIndex or any System: runs, per-query latency, metrics per query and mean, A vs B.

MTEB conventions: documents embedded as ``(title + " " + text).strip()`` (``Chunk.embed_text``), cosine
similarity (unit vectors), the model's own query prompt (none for all-MiniLM-L6-v2), metrics as in
``core.evaluation.metrics`` (trec_eval). A document split into several chunks scores the max over its chunks.
Loading the judged data (BEIR sets, judged folders) is ``core.datasets.eval_sets``; this module only searches
and scores.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from core.evaluation.metrics import (
    DEFAULT_METRICS,
    EvaluationError,
    Qrels,
    Run,
    drop_identical_ids,
    evaluate_per_query,
    mean_metrics,
    metric_key,
)
from core.evaluation.significance import PairedResult, paired_test
from core.ingest import detect_language
from core.search import System
from core.text import has_visible_text
from core.types import Chunk, Corpus, Progress, SearchParams, SearchResult

DocKey = Callable[[Chunk], str]
DocIdRule = Literal["id", "source"]  # judged documents named by chunk id (BEIR) or by file path


class SearchIndex(Protocol):
    """What ``run_retrieval`` needs of a ``core.search.engine.ModelIndex`` (tests pass light stand-ins)."""

    @property
    def corpus(self) -> Corpus: ...

    def embed_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray: ...

    def search_vectors(
        self, qvecs: np.ndarray, params: SearchParams = ...
    ) -> tuple[np.ndarray, np.ndarray]: ...


# MTEB tasks that set ignore_identical_ids = True (queries are themselves corpus documents)
IDENTICAL_ID_TASKS = ("arguana", "quora")


def doc_key(rule: str) -> DocKey:
    """'id' -> chunk.id (BEIR), 'source' -> chunk.source (file-level judgments such as the sample corpus)."""
    if rule == "id":
        return lambda c: c.id
    if rule == "source":
        return lambda c: c.source
    raise EvaluationError(f"Unknown doc_id rule {rule!r}: use 'id', 'source' or 'auto'.")


def _id_kinds(corpus: Corpus, qrels: Qrels) -> tuple[set[str], set[str]]:
    """(judged ids that name a chunk, judged ids that name a file) of ``corpus``; an id that is both (BEIR)
    counts as a chunk id."""
    judged = {d for docs in qrels.values() for d in docs}
    if not judged:
        raise EvaluationError(
            f"There are no judgments to evaluate ({len(qrels)} judged queries, none naming a document): "
            "check that the qrels' query ids match the queries' ids and that each judgment names a document."
        )
    ids, sources = {c.id for c in corpus.chunks}, {c.source for c in corpus.chunks}
    by_id, by_source = judged & ids - sources, judged & sources - ids
    if not by_id and not by_source and judged & ids:  # BEIR: a document is one chunk, its id is its source
        by_id = judged & ids
    if not by_id and not by_source:
        example = sorted(judged)[0]
        raise EvaluationError(
            f"No judged document id matches a chunk id or a file path of corpus {corpus.name or '(unnamed)'} "
            f"(e.g. {example!r}); qrels must name documents by BEIR _id or by path relative to the docs folder."
        )
    return by_id, by_source


def choose_doc_key(corpus: Corpus, qrels: Qrels) -> DocIdRule:
    """'id' when the judged documents are chunk ids, 'source' when they are file paths.

    Judgments that name some documents by chunk id and others by file path (pooled judgments beside imported
    file-level qrels) are refused: either rule would leave the other kind matching nothing. ``align_doc_ids``
    turns them into file-level judgments first."""
    by_id, by_source = _id_kinds(corpus, qrels)
    if by_id and by_source:
        raise EvaluationError(
            f"The judgments name documents two ways: {len(by_source)} by file path (e.g. "
            f"{sorted(by_source)[0]!r}) and {len(by_id)} by chunk id (e.g. {sorted(by_id)[0]!r}), so matching "
            "by either would drop the other. Evaluate one kind alone (pooled judgments, or the file-level "
            "qrels), or lift the chunk judgments to their files (core.evaluation.run.align_doc_ids)."
        )
    return "id" if by_id else "source"


@dataclass(frozen=True)
class AlignedQrels:
    """Qrels whose documents are all of one kind, the rule that matches them, and what was changed (or '')."""

    qrels: Qrels
    rule: DocIdRule
    note: str = ""


def align_doc_ids(corpus: Corpus, qrels: Qrels) -> AlignedQrels:
    """Qrels that name documents one way, for judgments that mix chunk ids and file paths.

    Unmixed qrels come back as they are, with ``choose_doc_key``'s rule. Mixed ones are evaluated at file level,
    the way the sample corpus's file-level qrels are (a file's score is its best chunk's): a chunk's judgment
    becomes its file's, a file being as relevant as its most relevant judged chunk (the highest grade), and a
    judgment of the file itself wins over its chunks' where a query has both. ``note`` says so in numbers."""
    by_id, by_source = _id_kinds(corpus, qrels)
    if not (by_id and by_source):
        return AlignedQrels(qrels, "id" if by_id else "source")
    file_of = {c.id: c.source for c in corpus.chunks}
    out: Qrels = {}
    lifted = overruled = 0
    for qid, docs in qrels.items():
        direct = {d: g for d, g in docs.items() if d in by_source}
        from_chunks: dict[str, int] = {}
        for d, g in docs.items():
            if d in by_id:
                lifted += 1
                f = file_of[d]
                from_chunks[f] = max(g, from_chunks.get(f, g))
        overruled += sum(f in direct for f in from_chunks)
        # ids of neither kind (stale judgments) stay as given: they match nothing, as before
        kept = {d: g for d, g in docs.items() if d not in by_id and d not in by_source}
        out[qid] = {**kept, **from_chunks, **direct}
    note = (
        f"The judgments name documents by file path and by chunk id: evaluated per file (a file scores as its best "
        f"chunk, as the sample's qrels are), {lifted} chunk judgments lifted to their files (a file takes its best "
        f"judged chunk's grade)"
        + (f"; {overruled} files judged directly keep that judgment over their chunks'" if overruled else "")
        + "."
    )
    return AlignedQrels(out, "source", note)


def check_corpus_text(corpus: Corpus) -> None:
    """Refuse a corpus whose every chunk is blank: its "ranking" would be tie-breaking (nDCG 0.71 on nothing)."""
    if not any(has_visible_text(c.embed_text) for c in corpus.chunks):
        raise EvaluationError(
            f"Corpus {corpus.name or '(unnamed)'} has no text in any of its {len(corpus.chunks)} documents: "
            "an evaluation would only measure tie-breaking; load a corpus with text."
        )


@dataclass(frozen=True)
class _DocPlan:
    """How chunk hits become a run: each chunk's document key, documents wanted per query, the first depth."""

    keys: list[str]
    k: int
    want: int  # documents needed per query (k, plus one when a query's own id may be dropped)
    first_fetch: int  # chunks fetched first: more than ``want`` when documents have several chunks
    n_chunks: int
    ignore_identical_ids: bool


def _plan(
    corpus: Corpus, *, k: int, doc_id: str | DocKey, qrels: Qrels | None, ignore_identical_ids: bool
) -> _DocPlan:
    """Check ``k`` and the corpus, decide the document key and how deep to fetch (shared by every search path)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise EvaluationError(f"k must be a positive integer, got {k!r}.")
    check_corpus_text(corpus)
    if doc_id == "auto":
        if qrels is None:
            raise EvaluationError("doc_id='auto' needs the qrels to decide between chunk ids and sources.")
        doc_id = choose_doc_key(corpus, qrels)
    key = doc_key(doc_id) if isinstance(doc_id, str) else doc_id
    keys = [key(c) for c in corpus.chunks]
    n_docs, n_chunks = len(set(keys)), len(keys)
    want = min(k + (1 if ignore_identical_ids else 0), n_docs)
    first_fetch = min(n_chunks, want if n_docs == n_chunks else want * max(2, math.ceil(n_chunks / n_docs)))
    return _DocPlan(keys, k, want, first_fetch, n_chunks, ignore_identical_ids)


ChunkHits = list[tuple[int, float]]  # (chunk row, score) of one query, best first


def _collect(
    plan: _DocPlan, n: int, search: Callable[[list[int], int], list[ChunkHits]], *, short_means_done: bool
) -> list[dict[str, float]]:
    """Documents of ``n`` queries, each scored by its best chunk, fetching deeper while chunks collapse.

    ``search(rows, fetch)`` returns the top ``fetch`` chunk hits of each listed query. A query is fetched again
    at twice the depth while it has fewer than ``plan.want`` documents and the corpus has more chunks; with
    ``short_means_done`` a query whose search returned fewer than ``fetch`` hits is final (the system had no more).
    """
    out: list[dict[str, float]] = [{} for _ in range(n)]
    pending, fetch = list(range(n)), plan.first_fetch
    while pending:
        still = []
        for i, hits in zip(pending, search(pending, fetch), strict=True):
            docs: dict[str, float] = {}
            for c, s in hits:
                if c < 0:  # hnswlib pads with -1 when it finds fewer than k
                    continue
                d = plan.keys[c]
                if d not in docs or s > docs[d]:
                    docs[d] = float(s)
            exhausted = short_means_done and sum(c >= 0 for c, _ in hits) < fetch
            if len(docs) < plan.want and fetch < plan.n_chunks and not exhausted:
                still.append(i)
            out[i] = docs
        pending, fetch = still, min(plan.n_chunks, fetch * 2)
    return out


def _finish(plan: _DocPlan, run: Run) -> Run:
    """Drop identical ids if asked, then keep the top ``k`` documents of each query, best first."""
    if plan.ignore_identical_ids:
        run = drop_identical_ids(run)
    return {
        q: dict(sorted(d.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[: plan.k])
        for q, d in run.items()
    }


def _searchable(queries: Mapping[str, str]) -> list[str]:
    """Query ids with text to search (the others get an empty ranking)."""
    return [q for q in queries if queries[q].strip()]


def _report(progress: Progress | None, done: int, total: int, t0: float) -> None:
    if progress is not None:
        elapsed = time.perf_counter() - t0
        progress(done, total, done / elapsed if elapsed > 0 else 0.0)


def run_retrieval(
    model_index: SearchIndex,
    queries: Mapping[str, str],
    *,
    k: int = 100,
    exact: bool = True,
    dims: int | None = None,
    doc_id: str | DocKey = "id",
    qrels: Qrels | None = None,
    ef: int | None = None,
    ignore_identical_ids: bool = False,
    instruction: str | None = None,
    batch_size: int = 256,
    progress: Progress | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> Run:
    """Search every query and return {qid: {doc_id: score}} with the top-k documents (max score over chunks).

    ``embed`` turns query texts into full-dimension vectors (default: the index's own ``embed_queries`` with
    ``instruction``); the app passes its per-text memo so queries another page embedded are not embedded again.
    Each query is embedded once, however deep its search goes (the MTEB-exact path for dense models;
    ``run_system`` runs any other system).

    ``doc_id='auto'`` picks 'id' or 'source' from ``qrels`` (see ``choose_doc_key``). With HNSW the beam is
    ``ef`` or max(4 * fetched, 400) so recall stays near exact. Empty queries get an empty ranking.

    Args:
        model_index: What to search (``core.search.build_model_index``).
        queries: {qid: query text}.
        k: Documents kept per query.
        exact: Exact search (True) or the HNSW index.
        dims: Search at the first ``dims`` dimensions (Matryoshka); None is the full dimension.
        doc_id: What a document is: "id" (chunk id, BEIR), "source" (file path), "auto" (needs ``qrels``),
            or a function of the chunk.
        qrels: The judgments; used only to decide ``doc_id="auto"``.
        ef: HNSW search beam; None picks one from ``k``.
        ignore_identical_ids: Drop a document whose id equals the query id (MTEB's rule for some tasks).
        instruction: The query instruction for models that take one (Qwen3); None uses the spec's default.
        batch_size: Queries embedded and searched at once.
        progress: Called as ``progress(done, total, rate)`` after each batch.
        embed: Turns query texts into full-dimension vectors instead of the index's own encoder.

    Returns:
        The run: {qid: {doc_id: score}}, best first, at most ``k`` per query, for ``evaluate`` / ``compare``.

    Raises:
        EvaluationError: ``k`` is not a positive integer, or ``doc_id`` cannot be decided.
    """
    plan = _plan(
        model_index.corpus, k=k, doc_id=doc_id, qrels=qrels, ignore_identical_ids=ignore_identical_ids
    )
    qids = _searchable(queries)
    run: Run = {q: {} for q in queries}
    t0 = time.perf_counter()
    for start in range(0, len(qids), batch_size):
        batch = qids[start : start + batch_size]
        texts = [queries[q] for q in batch]
        qvecs = (
            embed(texts) if embed is not None else model_index.embed_queries(texts, instruction=instruction)
        )

        def search(rows: list[int], fetch: int, qvecs: np.ndarray = qvecs) -> list[ChunkHits]:
            beam = ef if ef is not None else max(4 * fetch, 400)
            params = SearchParams(k=fetch, dims=dims, exact=exact, ef=None if exact else beam)
            idx, scores = model_index.search_vectors(qvecs[rows], params)
            return [list(zip(i.tolist(), s.tolist(), strict=True)) for i, s in zip(idx, scores, strict=True)]

        for q, docs in zip(batch, _collect(plan, len(batch), search, short_means_done=False), strict=True):
            run[q] = docs
        _report(progress, min(start + batch_size, len(qids)), len(qids), t0)
    return _finish(plan, run)


def _nums(values: Iterable[float]) -> np.ndarray:
    return np.fromiter(values, dtype=np.float64)


@dataclass(frozen=True)
class Latency:
    """Per-query search time of a system, in ms: p50/p95 of the total and the p50 of each stage.

    A query's total is ``embed_ms + search_ms`` plus every ``*_ms`` stage in ``SearchResult.extra``
    ("fusion_ms", "rerank_ms"). Systems that search a batch share its time out evenly, so with
    ``batch_size`` > 1 each figure is a per-query average over its batch (pass batch_size=1 for single-query
    times). Only each query's first search counts (a deeper fetch for chunked documents is evaluation work).
    """

    p50_ms: float
    p95_ms: float
    mean_ms: float
    queries: int
    stages_p50_ms: dict[str, float] = field(default_factory=dict)
    batch_size: int = 1

    @staticmethod
    def of(results: Iterable[SearchResult], *, batch_size: int = 1) -> Latency | None:
        """The latency of these searches (None when there are none)."""
        stages: dict[str, list[float]] = {}
        totals: list[float] = []
        for r in results:
            parts = {"embed_ms": r.embed_ms, "search_ms": r.search_ms}
            parts |= {
                k: v for k, v in r.extra.items()
                if k.endswith("_ms") and isinstance(v, int | float) and not isinstance(v, bool)
            }  # fmt: skip
            for name, v in parts.items():
                stages.setdefault(name, []).append(float(v))
            totals.append(sum(float(v) for v in parts.values()))
        if not totals:
            return None
        t = _nums(totals)
        p50, p95 = np.percentile(t, [50, 95])
        return Latency(
            p50_ms=float(p50),
            p95_ms=float(p95),
            mean_ms=float(t.mean()),
            queries=len(totals),
            stages_p50_ms={k: float(np.percentile(_nums(v), 50)) for k, v in stages.items()},
            batch_size=batch_size,
        )


@dataclass(frozen=True)
class SystemRun:
    """A system's run ({qid: {doc_id: score}}) with what it cost per query and to build."""

    name: str
    kind: str
    run: Run
    latency: Latency | None
    index_bytes: int = 0
    build_seconds: float = 0.0


def run_system(
    system: System,
    queries: Mapping[str, str],
    *,
    k: int = 100,
    exact: bool = True,
    dims: int | None = None,
    doc_id: str | DocKey = "id",
    qrels: Qrels | None = None,
    ef: int | None = None,
    ignore_identical_ids: bool = False,
    instruction: str | None = None,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> SystemRun:
    """Search every query with any system (``System.search_many``) and return its run and per-query latency.

    The run follows ``run_retrieval``'s conventions exactly (same code): a document scores its best chunk,
    deeper fetches while chunks collapse into fewer than k documents, identical ids dropped when asked, empty
    queries get an empty ranking, ``doc_id='auto'`` decided from ``qrels``; a system that returns fewer hits
    than asked for has no more, and is not asked again. For a dense ModelIndex it gives the same hits as
    ``run_retrieval``, which stays the path for dense models (each query embedded once, MTEB-exact).
    ``exact``/``dims``/``ef`` reach dense stages only (HNSW beam: ``ef`` or max(4 * fetched, 400)).

    Returns:
        A SystemRun: the run (at most ``k`` documents per query), the Latency of each query's first search,
        and the system's index bytes and build seconds when it reports them.

    Raises:
        EvaluationError: ``k`` is not a positive integer, or ``doc_id`` cannot be decided.
    """
    plan = _plan(system.corpus, k=k, doc_id=doc_id, qrels=qrels, ignore_identical_ids=ignore_identical_ids)
    qids = _searchable(queries)
    run: Run = {q: {} for q in queries}
    first: dict[str, SearchResult] = {}
    t0 = time.perf_counter()
    for start in range(0, len(qids), batch_size):
        batch = qids[start : start + batch_size]

        def search(rows: list[int], fetch: int, batch: list[str] = batch) -> list[ChunkHits]:
            beam = ef if ef is not None else max(4 * fetch, 400)
            params = SearchParams(
                k=fetch, dims=dims, exact=exact, ef=None if exact else beam, instruction=instruction
            )
            results = system.search_many([queries[batch[i]] for i in rows], params)
            if len(results) != len(rows):
                raise EvaluationError(
                    f"System {system.name!r} answered {len(results)} results for {len(rows)} queries: "
                    "search_many must return one SearchResult per query."
                )
            for i, r in zip(rows, results, strict=True):
                first.setdefault(batch[i], r)
            return [[(h.chunk_index, h.score) for h in r.hits] for r in results]

        for q, docs in zip(batch, _collect(plan, len(batch), search, short_means_done=True), strict=True):
            run[q] = docs
        _report(progress, min(start + batch_size, len(qids)), len(qids), t0)
    return SystemRun(
        name=system.name,
        kind=system.kind,
        run=_finish(plan, run),
        latency=Latency.of(first.values(), batch_size=min(batch_size, max(1, len(qids)))),
        index_bytes=int(getattr(system, "index_bytes", 0) or 0),
        build_seconds=float(getattr(system, "build_seconds", 0.0) or 0.0),
    )


COVERAGE_K = 10  # judged@10 and condensed nDCG@10 are computed beside every evaluation
COVERAGE = (f"judged@{COVERAGE_K}", f"ndcg_condensed@{COVERAGE_K}")


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one run: per query ({qid: {metric: value}}) and their means over ``queries`` queries.

    ``coverage`` holds, for the same queries, how much of the run was judged: judged@10 (share of the top 10
    with a judgment) and ndcg_condensed@10 (nDCG@10 with unjudged results removed, Sakai's condensed list);
    ``coverage_mean`` their means. They are kept apart from ``mean`` so the requested metrics stay exactly
    what was asked for (``column`` reads both)."""

    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]
    metrics: tuple[str, ...]
    coverage: dict[str, dict[str, float]] = field(default_factory=dict)
    coverage_mean: dict[str, float] = field(default_factory=dict)

    @property
    def judged_at_10(self) -> float | None:
        """Mean judged@10 over the evaluated queries (None when not computed)."""
        return self.coverage_mean.get(f"judged@{COVERAGE_K}")

    @property
    def condensed_ndcg_at_10(self) -> float | None:
        """Mean condensed-list nDCG@10 over the evaluated queries (None when not computed)."""
        return self.coverage_mean.get(f"ndcg_condensed@{COVERAGE_K}")

    @property
    def queries(self) -> int:
        """Number of evaluated queries (in both the run and the qrels)."""
        return len(self.per_query)

    def column(self, metric: str) -> dict[str, float]:
        """{qid: value} for one metric."""
        key = metric_key(metric)
        if key in self.metrics:
            return {q: v[key] for q, v in self.per_query.items()}
        if key in self.coverage_mean:
            return {q: v[key] for q, v in self.coverage.items()}
        raise EvaluationError(
            f"Metric {metric!r} was not computed; available: {[*self.metrics, *self.coverage_mean]}."
        )


def evaluate(
    run: Mapping[str, Mapping[str, float]],
    qrels: Qrels,
    metrics: Iterable[str] = DEFAULT_METRICS,
    *,
    ignore_identical_ids: bool = False,
) -> Evaluation:
    """Per-query and mean metrics of a run against judgments (trec_eval / MTEB conventions), with judged@10
    and condensed nDCG@10 in ``coverage``.

    Args:
        run: {qid: {doc_id: score}} (``run_retrieval``).
        qrels: {qid: {doc_id: grade}}; grade 0 is judged not relevant.
        metrics: Metric names such as "ndcg@10", "mrr@10", "recall@100", "map@100", "precision@10".
        ignore_identical_ids: Drop a document whose id equals the query id before scoring.

    Returns:
        The Evaluation: ``per_query`` and ``mean`` metrics over the judged queries, and their ``coverage``.

    Raises:
        EvaluationError: no query of the run has judgments, or a metric name is unknown.
    """
    keys = tuple(dict.fromkeys(metric_key(m) for m in metrics))
    per_query = evaluate_per_query(run, qrels, keys, ignore_identical_ids=ignore_identical_ids)
    if not per_query:
        raise EvaluationError(
            "No query of the run has judgments: check that the run's query ids match the qrels' query ids."
        )
    coverage = evaluate_per_query(run, qrels, COVERAGE, ignore_identical_ids=ignore_identical_ids)
    return Evaluation(
        per_query=per_query,
        mean=mean_metrics(per_query),
        metrics=keys,
        coverage=coverage,
        coverage_mean=mean_metrics(coverage),
    )


@dataclass(frozen=True)
class Comparison:
    """Two evaluations on the same judgments plus a paired test per metric.

    ``paired_condensed`` is the same paired test on condensed nDCG@10 (None when it was not computed)."""

    name_a: str
    name_b: str
    a: Evaluation
    b: Evaluation
    paired: dict[str, PairedResult]
    paired_condensed: PairedResult | None = None

    @property
    def judged_at_10(self) -> dict[str, float | None]:
        """{model name: mean judged@10}."""
        return {self.name_a: self.a.judged_at_10, self.name_b: self.b.judged_at_10}

    def coverage_table(self) -> list[dict[str, Any]]:
        """One row per model: judged@10, nDCG@10 (when computed) and condensed nDCG@10."""
        rows = []
        for name, ev in ((self.name_a, self.a), (self.name_b, self.b)):
            rows.append(
                {
                    "model": name,
                    "judged@10": ev.judged_at_10,
                    "ndcg@10": ev.mean.get("ndcg@10"),
                    "ndcg_condensed@10": ev.condensed_ndcg_at_10,
                }
            )
        return rows

    def table(self) -> list[dict[str, Any]]:
        """One row per metric: means of A and B, difference, p-value, CI, wins/ties/losses."""
        rows = []
        for m, p in self.paired.items():
            rows.append(
                {
                    "metric": m,
                    self.name_a: p.mean_a,
                    self.name_b: p.mean_b,
                    "diff": p.diff,
                    "p_value": p.p_value,
                    "ci_low": p.ci_low,
                    "ci_high": p.ci_high,
                    "wins": p.wins,
                    "ties": p.ties,
                    "losses": p.losses,
                }
            )
        return rows

    def per_query(self, metric: str) -> list[dict[str, Any]]:
        """Per-query rows for one metric, sorted by A - B (largest win of A first)."""
        a, b = self.a.column(metric), self.b.column(metric)
        rows = [
            {"qid": q, self.name_a: a[q], self.name_b: b[q], "diff": a[q] - b[q]}
            for q in sorted(set(a) & set(b))
        ]
        return sorted(rows, key=lambda r: (-r["diff"], r["qid"]))


def compare(
    run_a: Mapping[str, Mapping[str, float]],
    run_b: Mapping[str, Mapping[str, float]],
    qrels: Qrels,
    *,
    metrics: Iterable[str] = DEFAULT_METRICS,
    names: tuple[str, str] = ("A", "B"),
    ignore_identical_ids: bool = False,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Evaluate two runs on the same qrels and test every metric with a paired randomisation test + bootstrap CI.

    Args:
        run_a: Model A's run, {qid: {doc_id: score}} (``run_retrieval``).
        run_b: Model B's run on the same queries.
        qrels: {qid: {doc_id: grade}}.
        metrics: Metric names, as for ``evaluate``.
        names: Display names of A and B (equal names get " (A)" / " (B)").
        ignore_identical_ids: Drop a document whose id equals the query id before scoring.
        n_resamples: Resamples of the randomisation test and of the bootstrap.
        seed: Random seed, so the p-values and intervals repeat.

    Returns:
        The Comparison: both Evaluations and, per metric, a PairedResult (means, A - B, wins / ties /
        losses, p-value, 95% interval).

    Raises:
        EvaluationError: a run has no judged query, or a metric name is unknown.
    """
    if names[0] == names[1]:
        names = (names[0] + " (A)", names[1] + " (B)")
    ea = evaluate(run_a, qrels, metrics, ignore_identical_ids=ignore_identical_ids)
    eb = evaluate(run_b, qrels, metrics, ignore_identical_ids=ignore_identical_ids)
    paired = {
        m: paired_test(ea.column(m), eb.column(m), metric=m, n_resamples=n_resamples, seed=seed)
        for m in ea.metrics
    }
    condensed = COVERAGE[1]
    paired_condensed = (
        paired_test(ea.column(condensed), eb.column(condensed), metric=condensed, n_resamples=n_resamples,
                    seed=seed)
        if ea.coverage and eb.coverage
        else None
    )  # fmt: skip
    return Comparison(
        name_a=names[0], name_b=names[1], a=ea, b=eb, paired=paired, paired_condensed=paired_condensed
    )


def short_lang(lang: str) -> str:
    """'zh-cn' / 'zh-tw' -> 'zh'; 'en' stays 'en'; '' -> 'unknown'."""
    return (lang or "unknown").split("-")[0].lower()


def language_pairs(
    queries: Mapping[str, str],
    qrels: Qrels,
    corpus: Corpus,
    *,
    doc_id: str = "id",
    detect: Callable[[str], str] | None = None,
) -> dict[str, str]:
    """{qid: 'en->zh'}: query language -> language of its relevant documents (grade-weighted majority)."""
    detect = detect or detect_language
    key = doc_key(doc_id)
    per_doc: dict[str, Counter[str]] = {}
    texts: dict[str, str] = {}
    for c in corpus.chunks:
        per_doc.setdefault(key(c), Counter())[short_lang(c.lang)] += max(1, len(c.text))
        texts.setdefault(key(c), c.embed_text)
    doc_lang: dict[str, str] = {}
    for d, counts in per_doc.items():
        known = Counter({lang: n for lang, n in counts.items() if lang != "unknown"})
        doc_lang[d] = known.most_common(1)[0][0] if known else ""
    out: dict[str, str] = {}
    for qid, text in queries.items():
        votes: Counter[str] = Counter()
        for d, grade in qrels.get(qid, {}).items():
            if grade > 0 and d in per_doc:
                if not doc_lang[d]:
                    doc_lang[d] = short_lang(detect(texts[d]))
                votes[doc_lang[d]] += grade
        target = min(votes, key=lambda lang: (-votes[lang], lang)) if votes else "unknown"
        out[qid] = f"{short_lang(detect(text))}->{target}"
    return out


def by_group(evaluation: Evaluation, groups: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """Mean metrics per group label (e.g. language pair), with the query count under 'queries'."""
    buckets: dict[str, dict[str, dict[str, float]]] = {}
    for qid, values in evaluation.per_query.items():
        buckets.setdefault(groups.get(qid, "unknown"), {})[qid] = values
    return {g: {"queries": len(pq), **mean_metrics(pq)} for g, pq in sorted(buckets.items())}
