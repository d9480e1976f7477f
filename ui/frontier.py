"""Frontier page glue: query sets, memoised sweeps of core.frontier.measure, rows for the charts and the cost table."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import streamlit as st

from core.errors import DashboardError
from core.evaluation import Qrels, align_doc_ids, doc_key
from core.frontier import (
    Judged,
    ScaleInputs,
    Sweep,
    cost_at_scale,
    embedding,
    equal_budget,
    method,
    metric_of,
    pareto_mark,
    qdrant_tier,
    sweep_index,
    text_bytes_per_chunk,
)
from core.models import Throughput, current_throughput, declared_throughput
from core.search import ModelIndex, pseudo_queries
from core.types import Corpus, Progress
from ui import compare, resources, state
from ui.corpus import sample_judgments
from ui.evaluate import beir_judgments, store_judgments

Row = dict[str, Any]
SAMPLE_SET = "sample queries (judged: nDCG@10 too)"
BEIR_SET = "the BEIR set's queries (judged: nDCG@10 too)"
STORE_SET = "queries judged on the Judge page (nDCG@10 too)"
PSEUDO_SET = "chunks as pseudo-queries"


def judged_sets(corpus: Corpus) -> dict[str, tuple[dict[str, str], Qrels]]:
    """The judged query sets this corpus has: the sample's qrels, an uploaded BEIR set's, the judgment store's."""
    out: dict[str, tuple[dict[str, str], Qrels]] = {}
    origin = state.corpus_origin()
    if origin == "sample":
        queries, qrels = sample_judgments()
        if qrels:
            out[SAMPLE_SET] = (dict(queries), dict(qrels))
    if origin == "beir":
        queries, qrels = beir_judgments(corpus)
        if qrels:
            out[BEIR_SET] = (dict(queries), dict(qrels))
    try:
        queries, qrels = store_judgments(corpus, "union")
    except Exception:  # an unreadable store must not take the page down: the set is simply not offered
        queries, qrels = {}, {}
    qrels = {q: dict(d) for q, d in qrels.items() if d and q in queries}
    if qrels:
        out[STORE_SET] = ({q: queries[q] for q in qrels}, qrels)
    return out


def query_vectors(
    mi: ModelIndex, slot: str, kind: str, n_pseudo: int
) -> tuple[np.ndarray, np.ndarray | None, Judged | None]:
    """Full-dim query vectors, rows to exclude (pseudo-queries exclude themselves) and judgments (judged sets)."""
    sets = judged_sets(mi.corpus) if kind != PSEUDO_SET else {}
    if kind not in sets:
        rows = pseudo_queries(len(mi.corpus.chunks), n=n_pseudo)
        return mi.vectors[rows], rows, None
    queries, qrels = sets[kind]
    texts = list(queries.values())
    qvecs = resources.query_vectors(
        mi, texts, instruction=compare.instruction(slot)
    )  # shared with Dimensions, Judge
    aligned = align_doc_ids(mi.corpus, qrels)  # files and chunks judged in one store: scored per file
    qrels, ids = aligned.qrels, doc_key(aligned.rule)
    judged = Judged(doc_ids=[ids(c) for c in mi.corpus.chunks], qrels=[qrels.get(q) for q in queries])
    return qvecs, None, judged


def _digest(*parts: object) -> str:
    h = hashlib.sha1()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(np.ascontiguousarray(p).tobytes())
        elif isinstance(p, Judged):
            h.update(json.dumps([list(p.doc_ids), [dict(q) if q else None for q in p.qrels]]).encode())
        else:
            h.update(repr(p).encode())
        h.update(b"|")
    return h.hexdigest()


def sweep_key(
    mi: ModelIndex,
    qvecs: np.ndarray,
    exclude: np.ndarray | None,
    judged: Judged | None,
    *,
    k: int,
    hnsw: bool,
) -> tuple:
    """Content key of one model's sweep (vectors, queries, judgments, k, HNSW on/off and parameters)."""
    return ("frontier", mi.vectors_sha, _digest(qvecs, exclude, judged), k, hnsw, mi.params)


def cached_sweep(key: tuple) -> Sweep | None:
    """A sweep already run in this process, without running it."""
    found: Sweep | None = resources.memo_get(key)
    return found


def run_sweep(
    mi: ModelIndex,
    qvecs: np.ndarray,
    exclude: np.ndarray | None,
    judged: Judged | None,
    *,
    k: int,
    hnsw: bool,
    progress: Progress | None = None,
) -> Sweep:
    """core.frontier.measure.sweep over the model's stored vectors, once per content key."""
    key = sweep_key(mi, qvecs, exclude, judged, k=k, hnsw=hnsw)
    return resources.memo(
        key,
        lambda: sweep_index(mi, qvecs, k=k, hnsw=hnsw, exclude=exclude, judged=judged, progress=progress),
    )


# the sweep table's reduction column, in a word (core.dims labels them in full; the column's help says it)
SHORT_REDUCTION = {
    "post-hoc truncation": "post-hoc",
    "PCA rotation": "PCA",
    "Matryoshka-trained": "Matryoshka",
    "full dimension": "full",
}


def chart_rows(sweeps: list[Sweep], *, metric: str) -> list[Row]:
    """One row per configuration with every figure, Pareto flag recomputed for the chosen metric."""
    rows = []
    for s in sweeps:
        for r in pareto_mark(s.rows, metric=metric):
            rows.append(
                {
                    "model": s.model,
                    "configuration": r.label,
                    "reduction": SHORT_REDUCTION.get(s.reduction_label(r), s.reduction_label(r)),
                    "dims": r.dims,
                    "precision": r.precision,
                    "index": r.index,
                    "bytes per vector": r.bytes_per_vector,
                    "index bytes per vector": round(r.bytes_per_element, 1),
                    "index bytes": r.index_bytes,
                    f"recall@{s.k}": r.recall,
                    "recall": r.recall,
                    "nDCG@10": r.ndcg10,
                    "p50 ms": r.p50_ms,
                    "p95 ms": r.p95_ms,
                    "build s": r.build_seconds,
                    "pareto": r.pareto,
                    "method": method(r.precision, r.index),
                }
            )
    return rows


def metric_name(metric: str, k: int) -> str:
    """How a quality metric is named on the page: 'recall@10' or 'nDCG@10'."""
    return f"recall@{k}" if metric == "recall" else "nDCG@10"


def budget_sentence(model: Sweep, other: Sweep, *, metric: str) -> str:
    """The equal-budget readout on the chosen quality metric (core.frontier.measure's sentence, as the CLI and report)."""
    return equal_budget(model, other, metric=metric).sentence


THROUGHPUT_SOURCES = ("measured", "declared")


def measured_throughput(mi: ModelIndex) -> Throughput:
    """The model's one throughput on this machine (core.models.current_throughput: the last build's record in the
    store, else a timed sample of 32 chunks, recorded): what the Models page, the report and the CLI print too."""
    return current_throughput(mi.embedder, mi.store, [c.embed_text for c in mi.corpus.chunks[:64]])


def chosen_throughput(slot: str, mi: ModelIndex) -> Throughput:
    """The throughput the Frontier page's cost uses for slot A/B: measured here, or declared for target hardware
    (the page's inputs, kept in session state; the report reads the same). Raises DashboardError when 'declared'
    has no figure (the model has no published one and none was entered)."""
    s = slot.lower()
    if state.get(f"fr_tp_{s}") != "declared":
        return measured_throughput(mi)
    rate = float(state.get(f"fr_tp_rate_{s}") or 0.0)
    return declared_throughput(
        mi.spec.name, docs_per_s=rate or None, hardware=str(state.get(f"fr_tp_hw_{s}") or "") or None
    )


def throughput_or_measured(slot: str, mi: ModelIndex) -> tuple[Throughput, str]:
    """chosen_throughput, or the measured one with the reason when the declared figure is missing."""
    try:
        return chosen_throughput(slot, mi), ""
    except DashboardError as exc:
        return measured_throughput(mi), str(exc)


def embed_sentence(s: Sweep, tp: Throughput, scale: ScaleInputs) -> str:
    """Time, GPU- or CPU-hours and dollars to embed the target corpus once (the same for every configuration)."""
    return embedding(tp, scale).sentence()


def cost_rows(
    sweeps: list[Sweep],
    indexes: list[ModelIndex],
    rates: list[Throughput],
    scale: ScaleInputs,
    *,
    metric: str = "recall",
) -> list[Row]:
    """Per configuration (and per model, Qdrant's large-corpus tier): quality, RAM with the HNSW graph (formula |
    measured bytes per element), disk, Qdrant's sizing rule, search time and cores at scale, monthly cost (numbers
    unrounded: cost_columns formats them). Embedding cost is per model, not per configuration: embed_sentence."""
    out = []

    def row(model: str, label: str, quality: float, c: dict[str, float]) -> Row:
        measured = c["graph_bytes_measured"]
        graph = (
            f"{c['graph_bytes_formula']:,.0f} | {measured:,.0f}" if measured == measured else "–"
        )  # NaN: a flat configuration has no graph
        return {
            "model": model,
            "configuration": label,
            "quality": quality,
            "RAM GB": c["ram_gb"],
            "graph B": graph,
            "disk GB": c["disk_gb"],
            "Qdrant rule GB": c["qdrant_rule_gb"],
            "search ms": c["search_ms_at_scale"],
            "CPU cores": c["cpu_cores"],
            "$/month": c["monthly_usd"],
        }

    for s, mi, tp in zip(sweeps, indexes, rates, strict=True):
        text = text_bytes_per_chunk([c.text for c in mi.corpus.chunks])
        for r in s.rows:
            c = cost_at_scale(r, full_dim=mi.dim, throughput=tp, scale=scale, M=mi.params.M, text_bytes=text)
            out.append(row(s.model, r.label, metric_of(r, metric), c))
        tier = qdrant_tier(s, throughput=tp, scale=scale, M=mi.params.M, text_bytes=text)
        if tier is not None:
            out.append(row(s.model, tier.label, metric_of(tier.quality_row, metric), tier.cost))
    return out


def cost_columns(*, metric: str, k: int) -> dict[str, Any]:
    """st.dataframe column_config of the cost table: pixel widths that fit a 1280 px window, formats, help."""
    cc = st.column_config
    num = cc.NumberColumn
    return {
        "model": cc.TextColumn("model", width=120, pinned=True),
        "configuration": cc.TextColumn(
            "configuration", width=150, pinned=True, help="dimensions, storage precision, index"
        ),
        "quality": num(
            metric_name(metric, k),
            width=62,
            format="%.3f",
            help=(
                "recall@k against the model's own full-dimension float32 exact top-k"
                if metric == "recall"
                else "nDCG@10 on the judged queries"
            )
            + ", measured on this corpus (see the caveat under the table)",
        ),
        "RAM GB": num(
            "RAM GB",
            width=62,
            format="%.2f",
            help="vectors + HNSW graph + ids, all replicas (formulas below)",
        ),
        "graph B": cc.TextColumn(
            "graph B",
            width=74,
            help="HNSW graph bytes per element: the formula from M | the built hnswlib index's measured bytes",
        ),
        "disk GB": num(
            "disk GB",
            width=62,
            format="%.2f",
            help="the index, the float32 originals, the chunk text (payload) and ids, all replicas",
        ),
        "Qdrant rule GB": num(
            "Qdrant GB",
            width=70,
            format="%.2f",
            help="cross-check: Qdrant's sizing rule, chunks x dims x 4 B x 1.5, all replicas",
        ),
        "search ms": num(
            "search ms", width=62, format="%.2f", help="one query's search time grown to the target corpus"
        ),
        "CPU cores": num(
            "CPU cores", width=58, format="%.2f", help="cores busy searching at the target queries/s"
        ),
        "$/month": num(
            "$/month",
            width=80,
            format="dollar",
            help="RAM + disk + search cores per month (embedding is once)",
        ),
    }


def sweep_columns(*, k: int, judged: bool) -> dict[str, Any]:
    """column_config of the 'every configuration' table, fitting an expander at 1280 px (~780 px); hidden: what
    the configuration label already says."""
    cc = st.column_config
    num = cc.NumberColumn
    ndcg = {"nDCG@10": num("nDCG@10", width=66, format="%.4f")} if judged else {}
    return {
        "model": cc.TextColumn("model", width=128, pinned=True),
        "configuration": cc.TextColumn("configuration", width=158, pinned=True),
        "reduction": cc.TextColumn(
            "reduction",
            width=72,
            help="how the vectors got to d dims: Matryoshka (the first d dims of a Matryoshka-trained model), "
            "post-hoc (post-hoc truncation: the first d dims of a model not trained for it), PCA (PCA rotation: "
            "rotated onto this corpus's principal directions first, then the first d dims), full (full dimension)",
        ),
        "bytes per vector": num("bytes", width=54, format="%d", help="stored vector bytes"),
        "index bytes per vector": num(
            "index bytes",
            width=78,
            format="%.1f",
            help="index memory per vector (HNSW: with its graph's share)",
        ),
        f"recall@{k}": num(f"recall@{k}", width=66, format="%.4f"),
        **ndcg,
        "p50 ms": num("p50 ms", width=54, format="%.3f"),
        "p95 ms": num("p95 ms", width=54, format="%.3f"),
        # "build s" (HNSW build time) is left to the CSV and the charts' hover: the reduction column took its room
        "pareto": cc.CheckboxColumn("Pareto", width=50, help="no smaller configuration is at least as good"),
    }
