"""Judged evaluation for the Evaluate page: which judgments apply, runs for both models, memoised."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from core.datasets import BeirDataset, parse_trec_qrels
from core.evaluation import (
    Comparison,
    EvaluationError,
    GroupVerdict,
    Leaderboard,
    Qrels,
    Run,
    Verdict,
    align_doc_ids,
    compare,
    language_pairs,
    rank_systems,
    run_retrieval,
    verdict,
)
from core.ingest import read_queries_jsonl
from core.judging import legacy_query_id, qrels_from, query_id
from core.models import display_label
from core.search import ModelIndex, common_dims
from core.types import Corpus
from ui import build, day_one, judge, resources, state, systems, votes
from ui import compare as cmp


def label_judgments(corpus: Corpus) -> tuple[dict[str, str], Qrels]:
    """This session's Compare-page labels for this corpus, under ``query_id(text)`` (the judgment store's ids
    and the qrels download's)."""
    queries, qrels = {}, {}
    for text, marks in cmp.labels_for(corpus.sha256).items():
        if marks:
            qid = query_id(text)
            queries[qid] = text
            qrels[qid] = dict(marks)
    return queries, qrels


def register_beir(dataset: BeirDataset) -> Corpus:
    """Make an uploaded BEIR set the current corpus and keep its judgments beside it.

    The judgments are shared between sessions under the corpus *and* a digest of its queries and qrels (two
    uploads of one corpus with other qrels are two sets); the session remembers which set it uploaded."""
    corpus = dataset.corpus
    resources.corpora().put(corpus.sha256, corpus)
    judged = _digest([dataset.queries, dataset.qrels])
    resources.memo(("beir", corpus.sha256, judged), lambda: (dict(dataset.queries), dict(dataset.qrels)))
    state.put("eval_sets", {**state.get("eval_sets"), corpus.sha256: judged})
    if state.get("corpus_key") != corpus.sha256:
        state.put("built_a", None)
        state.put("built_b", None)
    state.put("corpus_key", corpus.sha256)
    state.put("corpus_origin", "beir")
    return corpus


def beir_judgments(corpus: Corpus) -> tuple[dict[str, str], Qrels]:
    """Judgments of the BEIR set this session uploaded for this corpus (none when it uploaded none)."""
    judged = state.get("eval_sets").get(corpus.sha256)
    found = resources.memo_get(("beir", corpus.sha256, judged)) if judged else None
    return found if found is not None else ({}, {})


def _digest(obj: object) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def dims_choices() -> list[int | str]:
    """The choice "full" and the truncation stops both built models support (none when an index is missing)."""
    a, b = build.built_index("A"), build.built_index("B")
    if a is None or b is None:
        return []
    return ["full", *common_dims((a.dim, a.spec.mrl_dims), (b.dim, b.spec.mrl_dims))]


def _run_key(queries: dict[str, str], qrels: Qrels, *, exact: bool, dims: int | None) -> tuple[object, ...]:
    return ("eval", state.get("built_a"), state.get("built_b"), _digest(queries), _digest(qrels), exact, dims)


def finished_run(
    queries: dict[str, str], qrels: Qrels, *, exact: bool, dims: int | None
) -> tuple[Comparison, Run, Run, dict[str, str]] | None:
    """The result of run_both with these inputs if it has already run (None otherwise; computes nothing)."""
    found: tuple[Comparison, Run, Run, dict[str, str]] | None = resources.memo_get(
        _run_key(queries, qrels, exact=exact, dims=dims)
    )
    return found


def run_both(
    corpus: Corpus,
    queries: dict[str, str],
    qrels: Qrels,
    *,
    exact: bool,
    dims: int | None,
) -> tuple[Comparison, Run, Run, dict[str, str]]:
    """Runs of A and B (k=100), their comparison, and the language pair of each query; memoised by content."""
    a, b = build.built_index("A"), build.built_index("B")
    if a is None or b is None:
        raise EvaluationError(
            "Build both indexes on the Models page first (this corpus has no index for A and B)."
        )
    for mi in (a, b):
        if dims is not None and not 1 <= dims <= mi.dim:  # never score "d dims" at full dimension in silence
            raise EvaluationError(
                f"{mi.spec.name} has {mi.dim} dimensions, so it cannot be cut to {dims}; "
                f"choose one of {dims_choices()}."
            )
    key = _run_key(queries, qrels, exact=exact, dims=dims)
    # judgments naming files and chunks are scored per file (the page shows the note)
    aligned = align_doc_ids(corpus, qrels)
    qrels, rule = aligned.qrels, aligned.rule

    def embedder(mi: ModelIndex, slot: str) -> Callable[[list[str]], np.ndarray]:
        return lambda texts: resources.query_vectors(mi, texts, instruction=cmp.instruction(slot))

    def compute() -> tuple[Comparison, Run, Run, dict[str, str]]:
        runs: list[Run] = []
        for slot, mi in (("A", a), ("B", b)):
            d = dims if dims and dims <= mi.dim else None
            runs.append(
                run_retrieval(
                    mi,
                    queries,
                    k=100,
                    exact=exact,
                    dims=d,
                    doc_id=rule,
                    qrels=qrels,
                    instruction=cmp.instruction(slot),
                    embed=embedder(mi, slot),  # the per-text memo Dimensions, Frontier and Judge share
                )
            )
        names = (f"A · {display_label(a.spec)}", f"B · {display_label(b.spec)}")  # stand-ins named as such
        comparison = compare(runs[0], runs[1], qrels, names=names)
        pairs = language_pairs(queries, qrels, corpus, doc_id=rule)
        return comparison, runs[0], runs[1], pairs

    return resources.memo(key, compute)


# Judgments from the store (pooled, thumbs, union) and uploaded qrels ---------------------------------------

StoreSource = Literal["pooled", "thumbs", "union"]


def store_judgments(corpus: Corpus, source: StoreSource) -> tuple[dict[str, str], Qrels]:
    """Queries and merged qrels of the corpus's judgment store (several raters merged by the median). "union" here
    is people's labels together (the store's "human": pooled and imported over thumbs); LLM grades are not in it."""
    return judge.judgment_store(corpus).qrels("human" if source == "union" else source)


def thumbs_judgments(corpus: Corpus) -> tuple[dict[str, str], Qrels]:
    """Compare-page thumbs: those in the judgment store, plus this session's labels of queries it has none of
    (a bundle's session labels are not written to the store)."""
    queries, qrels = store_judgments(corpus, "thumbs")
    session_queries, session_qrels = label_judgments(corpus)
    for qid, text in session_queries.items():
        if qid not in qrels:
            queries[qid], qrels[qid] = text, session_qrels[qid]
    return queries, qrels


def unpooled_share(corpus: Corpus, qrels: Qrels, source: str) -> float:
    """Share of the judged (query, chunk) pairs that rest on Compare-page thumbs only (seen with names and ranks)."""
    if source == "thumbs":
        return 1.0
    if source != "union" or not qrels:
        return 0.0
    blind = {
        (j.query_id, j.chunk_id)
        for j in judge.judgment_store(corpus).judgments()
        if j.origin not in ("thumbs", "llm")  # an LLM grade does not make a thumbs-only pair blind
    }
    pairs = [(q, c) for q, docs in qrels.items() for c in docs]
    return sum(p not in blind for p in pairs) / len(pairs)


def read_uploaded_qrels(
    corpus: Corpus, files: Sequence[tuple[str, bytes]]
) -> tuple[dict[str, str], Qrels, str]:
    """Qrels files (TREC graded or BEIR tsv) plus an optional queries.jsonl: (queries, qrels, what was left out).

    Query texts come from the queries.jsonl, else from what the judgment store, the sample set and this
    session know; qrels queries without a text are left out and counted. An id an old Compare download gave
    its text (``legacy_query_id``) is read as ``query_id(text)``, the store's, so both are one query.
    """
    texts = judge.known_query_texts(judge.judgment_store(corpus))
    qrels: Qrels = {}
    names = []
    for name, data in files:
        text = judge.decode_upload(name, data)
        if name.lower().endswith((".jsonl", ".json")):
            texts |= read_queries_jsonl(text.splitlines(), name=name).queries
        else:
            names.append(name)
            for qid, docs in parse_trec_qrels(text, name).items():
                qrels.setdefault(qid, {}).update(docs)
    if not names:
        raise EvaluationError("Upload a qrels file (TREC 'query-id 0 doc-id grade' or a BEIR qrels .tsv).")
    qrels, texts = _current_ids(qrels, texts)
    missing = [q for q in qrels if q not in texts]
    kept = {q: docs for q, docs in qrels.items() if q in texts}
    if not kept:
        raise EvaluationError(
            f"None of the {len(qrels)} queries in {', '.join(names)} has a known text (e.g. {missing[0]!r}): "
            "upload its queries.jsonl ('_id', 'text') together with the qrels."
        )
    note = f"{len(kept)} judged queries from {', '.join(names)}"
    if missing:
        note += f"; {len(missing)} left out without a text (e.g. {missing[0]!r}: add their queries.jsonl)"
    return {q: texts[q] for q in kept}, kept, note


def _current_ids(qrels: Qrels, texts: dict[str, str]) -> tuple[Qrels, dict[str, str]]:
    """Qrels with each legacy id (``legacy_query_id`` of its known text) renamed ``query_id(text)``, merged into
    that query's judgments when the upload has both; and the texts under the new ids too."""
    out: Qrels = {}
    texts = dict(texts)
    for qid, docs in qrels.items():
        text = texts.get(qid)
        if text is not None and qid == legacy_query_id(text):
            qid = query_id(text)
            texts[qid] = text
        out.setdefault(qid, {}).update(docs)
    return out, texts


SOURCE_ORIGIN: dict[str, str] = {
    "pooled judgments": "pooled",
    "labels from the Compare page": "thumbs",
    "union": "union",
    "upload qrels or a BEIR zip": "imported",
    "generated queries": "generated",
    "LLM judgments": "llm",
}


# Evidence without people: generated queries and the LLM judge (kept apart from people's labels) -----------------


def llm_judgments(corpus: Corpus, rater: str | None = None) -> tuple[dict[str, str], Qrels, str]:
    """The queries one LLM judge graded (``llm_rater`` by default), with people's labels winning wherever both exist,
    and whose labels they are: "llm", or "mixed" when people judged some of the same queries."""
    rater = rater or day_one.llm_rater(corpus)
    if rater is None:
        return {}, {}, "llm"
    current = judge.judgment_store(corpus).judgments()
    mine = [j for j in current if j.origin == "llm" and j.rater == rater]
    people = [j for j in current if j.origin != "llm"]
    _, by_llm = qrels_from(mine, "llm")
    queries, union = qrels_from(people + mine, "union")
    _, human = qrels_from(people, "union")
    keep = {q: union[q] for q in by_llm if q in union}
    evidence = "mixed" if any(q in human for q in keep) else "llm"
    return {q: queries[q] for q in keep}, keep, evidence


def evidence_for(corpus: Corpus, source: str) -> tuple[str, tuple[bool, str] | None]:
    """(whose labels, the LLM rule's outcome where LLM labels are used) for a judgment source of the page."""
    if source == "generated queries":
        return "generated", None
    if source == "LLM judgments":
        return llm_judgments(corpus)[2], day_one.llm_trust(corpus)
    return "human", None


def verdict_for(corpus: Corpus, comparison: Comparison, source: str, qrels: Qrels) -> Verdict:
    """core.evaluation.decide's sentence for this comparison, citing the raters' kappa and the blind votes of this pair."""
    store = judge.judgment_store(corpus)
    origin = SOURCE_ORIGIN.get(source, "")
    agreement = judge.agreement(store) if origin in ("pooled", "union") else None
    pair = votes.model_pair()
    cast = votes.pair_votes(store.votes(), pair) if pair else []
    summary = votes.summary(cast, ties=state.votes_ties(), pair=pair) if pair and cast else None
    evidence, trust = evidence_for(corpus, source)
    return verdict(
        comparison,
        source=origin,
        evidence=evidence if evidence != "human" else "",
        llm_trust=trust,
        agreement=agreement,
        votes=summary,
        unpooled_share=unpooled_share(corpus, qrels, origin),
    )


# Every built system in one leaderboard ------------------------------------------------------------------------


def leaderboard_for(
    corpus: Corpus, queries: dict[str, str], qrels: Qrels, source: str, *, exact: bool, dims: int | None
) -> tuple[Leaderboard, GroupVerdict]:
    """Every built system (A, B, BM25, hybrids, reranked) on the judged queries: Holm-corrected, the top group.

    Each system searches one query at a time (its latency is a user's); memoised by systems and content.
    """
    every = systems.every(corpus)
    key = ("leaderboard", tuple(every), state.get("built_a"), state.get("built_b"), _digest(queries), _digest(qrels),
           exact, dims, source)  # fmt: skip

    def compute() -> tuple[Leaderboard, GroupVerdict]:
        slot_of = {mi.name: slot for slot in build.SLOTS if (mi := build.built_index(slot)) is not None}
        origin = SOURCE_ORIGIN.get(source, "")
        store = judge.judgment_store(corpus)
        evidence, trust = evidence_for(corpus, source)
        ranking = rank_systems(
            every,
            queries,
            qrels,
            exact=exact,
            dims=dims,
            instructions={name: cmp.instruction(slot) for name, slot in slot_of.items()},
            source=origin,
            evidence=evidence,
            llm_trust=trust,
            agreement=judge.agreement(store) if origin in ("pooled", "union") else None,
            unpooled_share=lambda aligned: unpooled_share(corpus, aligned, origin),
        )
        return ranking.board, ranking.verdict

    return resources.memo(key, compute)
