"""Frontier page glue: query sets, memoised sweeps of core.frontier, rows for the charts and the cost table."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from core.engine import ModelIndex
from core.evaluation import choose_doc_key, doc_key
from core.frontier import (
    Judged,
    ScaleInputs,
    Sweep,
    cost_at_scale,
    method,
    pareto_mark,
    sweep,
    sweep_dims,
)
from core.metrics import Qrels
from core.mrl import pseudo_queries
from core.types import Corpus, Progress
from ui import compare, resources, state
from ui.evaluate import beir_judgments, sample_judgments, store_judgments

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
    key = ("qvecs", mi.vectors_sha, mi.embedder.cache_key, tuple(texts), compare.instruction(slot))
    qvecs = resources.memo(key, lambda: mi.embed_queries(texts, instruction=compare.instruction(slot)))
    ids = doc_key(choose_doc_key(mi.corpus, qrels))
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
    """core.frontier.sweep over the model's stored vectors, once per content key."""
    key = sweep_key(mi, qvecs, exclude, judged, k=k, hnsw=hnsw)
    return resources.memo(
        key,
        lambda: sweep(
            mi.vectors,
            qvecs,
            model=mi.spec.name,
            dims=sweep_dims(mi.dim, mi.spec.mrl_dims),
            k=k,
            hnsw=hnsw,
            params=mi.params,
            exclude=exclude,
            judged=judged,
            mrl_trained=bool(mi.spec.mrl_dims),
            progress=progress,
        ),
    )


def chart_rows(sweeps: list[Sweep], *, metric: str) -> list[Row]:
    """One row per configuration with every figure, Pareto flag recomputed for the chosen metric."""
    rows = []
    for s in sweeps:
        for r in pareto_mark(s.rows, metric=metric):
            rows.append(
                {
                    "model": s.model,
                    "configuration": r.label,
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


def docs_per_second(mi: ModelIndex) -> float:
    """Measured embedding throughput of this build (0 when every vector came from the cache)."""
    return float(mi.stats.items_per_second) if mi.stats is not None else 0.0


def cost_rows(
    sweeps: list[Sweep], indexes: list[ModelIndex], rates: list[float], scale: ScaleInputs
) -> list[Row]:
    """Per configuration: RAM, disk, embedding time and GPU-hours, search cores and monthly cost at scale."""
    out = []
    for s, mi, rate in zip(sweeps, indexes, rates, strict=True):
        for r in s.rows:
            c = cost_at_scale(r, full_dim=mi.dim, docs_per_s=rate, scale=scale)
            out.append(
                {
                    "model": s.model,
                    "configuration": r.label,
                    "recall": round(r.recall, 4),
                    "RAM GB": round(c["ram_gb"], 2),
                    "disk GB": round(c["disk_gb"], 2),
                    "embed hours": round(c["embed_hours"], 2),
                    "embed $": round(c["embed_usd"], 2),
                    "search ms at scale": round(c["search_ms_at_scale"], 2),
                    "CPU cores": round(c["cpu_cores"], 2),
                    "monthly $": round(c["monthly_usd"], 2),
                }
            )
    return out
