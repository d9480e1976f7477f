"""Pooled blind judging and blind votes: query sets, both models' top-k, pools, progress, the judgment store.

Nothing here shows which model found a chunk: pools come from core.judging.pooling (a seeded order that depends
only on the set of pooled chunk ids), and the blind pages show chunks by source and location only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import streamlit as st

from core.datasets import (
    format_judgments_csv,
    format_trec_qrels,
    parse_judgments_csv,
    parse_trec_qrels,
    qrels_judgments,
)
from core.errors import IngestError
from core.ingest import read_queries_jsonl
from core.judging import Judgment, JudgmentStore, RaterAgreement, legacy_query_id, pool, query_id
from core.judging import agreement as rater_agreement
from core.store import default_root
from core.text import count
from core.types import Chunk, Corpus, SearchParams
from ui import build, resources, state, systems
from ui import compare as cmp
from ui.corpus import sample_queries
from ui.state import JUDGE_QUERY_SETS, JudgeQuerySet
from ui.text import display_name, escape_md, escape_name, short_path

if TYPE_CHECKING:
    from core.search import ModelIndex

Prefix = Literal["judge", "votes"]
MAX_QUERIES = 2000  # queries read from an uploaded file
LABEL_NAMES = {0: "not relevant", 1: "partly relevant", 2: "highly relevant"}
QUERY_SET_LABELS = {
    "sample": "Sample queries",
    "history": "Session history",
    "uploaded": "Uploaded file",
    "pseudo": "Chunks as pseudo-queries",
}


# The judgment store ------------------------------------------------------------------------------------


def judgment_store(corpus: Corpus) -> JudgmentStore:
    """The corpus's judgment store under the current store root (opened once per root and corpus)."""
    root = default_root()
    return resources.memo(
        ("judgments", str(root), corpus.sha256), lambda: JudgmentStore.for_corpus(corpus.sha256, root=root)
    )


def _rater_typed() -> None:
    state.put("judge_rater", str(state.page_value("_judge_rater_in") or "").strip())


def rater_input(area: st.delta_generator.DeltaGenerator, *, what: str) -> None:
    """The rater-name box of the Judge and Votes pages; the name lives in plain session state ("judge_rater").

    The box's own key is re-seeded from it on every run, so the name survives fragment reruns and page changes
    (a widget key alone was forgotten after a run of fragment-only reruns).
    """
    state.set_page_value("_judge_rater_in", state.get("judge_rater") or "")
    area.text_input(
        "Your name (rater)",
        key="_judge_rater_in",
        on_change=_rater_typed,
        placeholder=f"e.g. Ana — required: every {what} records who made it",
        max_chars=80,
    )


def rater() -> str:
    """The rater name typed this session ('' until one is typed)."""
    return str(state.get("judge_rater") or "").strip()


# Query sets ---------------------------------------------------------------------------------------------


def read_query_file(name: str, data: bytes) -> list[str]:
    """Query texts of an uploaded file: a BEIR queries.jsonl (core.ingest.jsonl's reader) or plain text, one a line."""
    text = decode_upload(name, data)
    if name.lower().endswith((".jsonl", ".json")):
        queries = list(read_queries_jsonl(text.splitlines(), name=name).queries.values())
    else:
        queries = [" ".join(line.split()) for line in text.splitlines()]
    queries = list(dict.fromkeys(q.strip() for q in queries if q.strip()))
    if not queries:
        raise IngestError(
            f"{name} holds no query: give one query a line (plain text) or a queries.jsonl with '_id' and 'text'."
        )
    return queries[:MAX_QUERIES]


def _upload_changed(prefix: Prefix) -> None:
    upload = state.page_value(f"_{prefix}_upload")
    if upload is None:
        return
    try:
        queries = read_query_file(upload.name, upload.getvalue())
    except Exception as exc:  # the previous set stays; the message shows on the next run
        state.set_page_value(f"_{prefix}_upload_error", str(exc))
        return
    state.set_page_value(f"_{prefix}_upload_error", "")
    state.put(f"{prefix}_uploaded", {"name": upload.name, "queries": queries})


def query_set_kind(prefix: Prefix) -> JudgeQuerySet:
    chosen = state.get(f"{prefix}_queryset")
    return chosen if chosen in JUDGE_QUERY_SETS else JUDGE_QUERY_SETS[0]


def query_set_controls(prefix: Prefix) -> tuple[list[str], str]:
    """The query-set widgets (set, pseudo-query count, upload, disagreement order); returns (texts, why empty)."""
    c1, c2 = st.columns([5, 2], vertical_alignment="bottom")
    c1.radio(
        "Query set",
        JUDGE_QUERY_SETS,
        key=f"{prefix}_queryset",
        horizontal=True,
        format_func=QUERY_SET_LABELS.get,
    )
    c2.toggle(
        "Most disagreeing first",
        key=f"{prefix}_disagree_first",
        help="Order the set by the Compare page's disagreement ranking (lowest rank-biased overlap first), "
        "so effort goes where the two models differ.",
    )
    if query_set_kind(prefix) == "pseudo":
        st.number_input(
            "How many chunks (their opening text is the query)", min_value=5, max_value=500, step=5,
            key=f"{prefix}_pseudo", width=260,
        )  # fmt: skip
    kind = query_set_kind(prefix)
    if kind == "uploaded":
        st.file_uploader(
            "Queries file: queries.jsonl ('_id', 'text') or plain text, one query a line",
            type=["jsonl", "json", "txt", "tsv", "csv"],
            key=f"_{prefix}_upload",
            on_change=_upload_changed,
            args=(prefix,),
        )
        error = state.page_value(f"_{prefix}_upload_error")
        if error:
            st.error(escape_md(error) + " The previous query set is kept.", icon=":material/warning:")
    texts = query_texts(prefix)
    why = ""
    if not texts:
        why = {
            "sample": "Sample queries exist for the sample corpus only: load it on the Corpus page, "
            "or choose another query set.",
            "history": "No query asked yet this session: ask some on the Compare page, or "
            "choose another query set.",
            "uploaded": "Upload a queries file above (queries.jsonl or one query a line).",
            "pseudo": "The corpus has no chunks.",
        }[kind]
    elif kind == "uploaded":
        uploaded = state.get(f"{prefix}_uploaded") or {}
        st.caption(f"{len(texts)} queries from {escape_name(str(uploaded.get('name', 'the upload')))}.")
    return texts, why


def query_texts(prefix: Prefix) -> list[str]:
    """The chosen set's query texts (deduplicated), before any reordering."""
    kind = query_set_kind(prefix)
    if kind == "sample":
        texts = [q["text"] for q in sample_queries()] if state.corpus_origin() == "sample" else []
    elif kind == "history":
        texts = state.history()
    elif kind == "uploaded":
        texts = list((state.get(f"{prefix}_uploaded") or {}).get("queries", []))
    else:
        texts = cmp.pseudo_query_texts(int(state.get(f"{prefix}_pseudo")))
    return list(dict.fromkeys(t for t in texts if t.strip()))


def _signature() -> tuple[object, ...]:
    """What both models' top-k depend on besides the queries: the built indexes and the query instructions."""
    return (state.get("built_a"), state.get("built_b"), cmp.instruction("A"), cmp.instruction("B"))


def ordered(texts: list[str], prefix: Prefix, k: int) -> list[str]:
    """The set in the order chosen: as given, or most disagreeing first (ui.compare.disagreement's ranking)."""
    if not state.get(f"{prefix}_disagree_first") or len(texts) < 2:
        return texts
    rows = resources.memo(("disagree", _signature(), k, tuple(texts)), lambda: cmp.disagreement(texts, k))
    return [str(r["query"]) for r in rows]


# Both models' top-k and the pools --------------------------------------------------------------------------


SEARCH_DEPTH = 20  # each query is searched this deep once; any k up to it (Judge, Votes) is a slice


def top_k(texts: Sequence[str], k: int) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """{query: (A's top-k chunk ids, B's top-k chunk ids)}: exact search (what Evaluate scores).

    Cached per query (not per query set): a query searched once for either page, at any k up to
    SEARCH_DEPTH, is never searched again while the indexes and instructions stay the same.
    """
    a, b = build.built_index("A"), build.built_index("B")
    if a is None or b is None:
        raise RuntimeError("both indexes must be built before pooling")
    depth = min(max(k, SEARCH_DEPTH), len(a.corpus.chunks))  # never deeper than the corpus
    found: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = resources.memo(
        ("topk", _signature(), depth), dict
    )
    missing = [q for q in dict.fromkeys(texts) if q not in found]
    if missing:
        ra = _exact_ids(a, missing, depth, cmp.instruction("A"))
        rb = _exact_ids(b, missing, depth, cmp.instruction("B"))
        for q, x, y in zip(missing, ra, rb, strict=True):  # whole entries: readers never see half of one
            found[q] = (x, y)
    return {q: (found[q][0][:k], found[q][1][:k]) for q in texts}


def _exact_ids(
    mi: ModelIndex, texts: list[str], depth: int, instruction: str | None
) -> list[tuple[str, ...]]:
    """Each text's exact top-``depth`` chunk ids; query vectors come from (and go to) the shared memo."""
    rows, _ = mi.search_vectors(
        resources.query_vectors(mi, texts, instruction=instruction), SearchParams(k=depth, exact=True)
    )
    chunks = mi.corpus.chunks
    return [tuple(chunks[int(i)].id for i in row) for row in rows.tolist()]


@dataclass(frozen=True)
class Pool:
    """One query's pooled chunks in their blind order."""

    query: str
    query_id: str
    chunk_ids: tuple[str, ...]


def other_top_k(texts: Sequence[str], k: int) -> dict[str, list[tuple[str, ...]]]:
    """{query: [each extra system's top-k chunk ids]}: BM25, hybrids and reranked systems built on the Models page,
    so the pool judges every system's top k (cached per query and system, as ``top_k``)."""
    corpus = resources.current_corpus()
    extras = systems.extras(corpus)
    out: dict[str, list[tuple[str, ...]]] = {q: [] for q in texts}
    if corpus is None or not extras:
        return out
    depth = min(max(k, SEARCH_DEPTH), len(corpus.chunks))
    for name, system in extras.items():
        found: dict[str, tuple[str, ...]] = resources.memo(("topk-system", _signature(), name, depth), dict)
        missing = [q for q in dict.fromkeys(texts) if q not in found]
        if missing:
            for q, res in zip(missing, system.search_many(missing, SearchParams(k=depth)), strict=True):
                found[q] = tuple(h.chunk_id for h in res.hits)
        for q in texts:
            out[q].append(found[q][:k])
    return out


def pools(texts: Sequence[str], k: int) -> list[Pool]:
    """Each query's pool: the union of every built system's top-k (models A and B, and any BM25, hybrid or
    reranked system) in core.judging.pooling's seeded order (seed = query id)."""
    lists, others = top_k(texts, k), other_top_k(texts, k)
    out = []
    for q in texts:
        qid = query_id(q)
        ids_a, ids_b = lists[q]
        chunk_ids = pool(ids_a, ids_b, k, seed=qid, more=others[q])
        out.append(Pool(query=q, query_id=qid, chunk_ids=tuple(chunk_ids)))
    return out


def chunk_by_id(corpus: Corpus) -> dict[str, Chunk]:
    """The corpus's chunks by id (built once per corpus)."""
    return resources.memo(("chunks-by-id", corpus.sha256), lambda: {c.id: c for c in corpus.chunks})


def where(chunk: Chunk, *, limit: int = 56) -> str:
    """Escaped 'source · location' of a chunk, a long path shortened in the middle (see ``where_help``)."""
    return escape_name(short_path(chunk.source, limit)) + (
        f" · {escape_name(chunk.location)}" if chunk.location else ""
    )


def where_help(chunk: Chunk, *, limit: int = 56) -> str | None:
    """The full path, for the card's hover help, when ``where`` shortened it."""
    return (
        escape_name(chunk.source) if short_path(chunk.source, limit) != display_name(chunk.source) else None
    )


# Progress ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeProgress:
    """One rater's progress through the pools, and the pair to show next (None when every pair is done)."""

    queries_done: int
    queries_total: int
    judged: int  # pairs with a label
    skipped: int  # pairs skipped (seen, no label)
    total: int
    next_pair: tuple[int, str] | None  # (index into the pools, chunk id)
    reviewing: bool = False  # going back over skipped pairs


def progress(
    pooled: Sequence[Pool], judgments: Iterable[Judgment], who: str, *, review_since: float | None = None
) -> JudgeProgress:
    """Where this rater stands: pairs labelled or skipped, and the first pair not seen yet.

    With ``review_since`` (a time), the next pair is the first one this rater skipped before that time.
    """
    seen: dict[tuple[str, str], Judgment] = {
        (j.query_id, j.chunk_id): j for j in judgments if j.rater == who and j.origin == "pooled"
    }
    judged = skipped = done = total = 0
    first: tuple[int, str] | None = None
    first_skip: tuple[int, str] | None = None
    for i, p in enumerate(pooled):
        complete = True
        for cid in p.chunk_ids:
            total += 1
            j = seen.get((p.query_id, cid))
            if j is None:
                complete = False
                if first is None:
                    first = (i, cid)
            elif j.label is None:
                skipped += 1
                if first_skip is None and review_since is not None and j.time < review_since:
                    first_skip = (i, cid)
            else:
                judged += 1
        done += complete
    reviewing = review_since is not None and first is None
    return JudgeProgress(
        queries_done=done,
        queries_total=len(pooled),
        judged=judged,
        skipped=skipped,
        total=total,
        next_pair=first if first is not None else (first_skip if reviewing else None),
        reviewing=reviewing and first_skip is not None,
    )


def label_pair(store: JudgmentStore, p: Pool, chunk_id: str, label: int | None, k: int) -> None:
    """Record one pooled judgment (label None = skip) for the session's rater."""
    store.record(
        query=p.query, query_id=p.query_id, chunk_id=chunk_id, label=label, rater=rater(), origin="pooled",
        pool_depth=k,
    )  # fmt: skip


def start_review() -> None:
    """Go back over the pairs skipped so far."""
    state.set_page_value("_judge_review_since", time.time())


def review_since() -> float | None:
    since = state.page_value("_judge_review_since")
    return float(since) if since else None


# Agreement, export and import ----------------------------------------------------------------------------

KAPPA_HELP = (
    "Chance-corrected agreement on the pairs two or more raters labelled: 1 = perfect, 0 = what chance gives. "
    "Rough reading (Landis & Koch): above 0.6 substantial, 0.4–0.6 moderate, below 0.4 weak."
)


def agreement(store: JudgmentStore) -> RaterAgreement:
    """Cohen's or Fleiss' kappa over the raters' current pooled labels (skips left out)."""
    return rater_agreement(store.judgments(origin="pooled"), origin="pooled")


def raters_sentence(found: RaterAgreement, who: str) -> str:
    """Who has judged so far and what kappa still needs ("1 rater so far (you). Kappa needs ...")."""
    others = [r for r in found.raters if r != who]
    you = who in found.raters
    n = len(found.raters)
    if n == 0:
        said = "No rater has graded a pooled pair yet."
    else:
        names = ", ".join(escape_md(r) for r in others[:5]) + (" …" if len(others) > 5 else "")
        mine = "you" if you else ""
        said = f"{count(n, 'rater')} so far ({', '.join(x for x in (mine, names) if x)})."
    return (
        f"{said} Kappa needs two or more raters grading the same pairs: ask a colleague to judge the same query set "
        "under their own name (another browser works: judgments are on disk)."
    )


def stored_label(judgments: Iterable[Judgment], p: Pool, chunk_id: str, who: str) -> int | None:
    """The current rater's stored grade of this pair (None: not graded, or skipped)."""
    found = None
    for j in judgments:
        if j.query_id == p.query_id and j.chunk_id == chunk_id and j.rater == who:
            found = j.label  # judgments come oldest first: the last is current
    return found


def disagreement_rows(found: RaterAgreement, store: JudgmentStore, corpus: Corpus) -> list[dict[str, object]]:
    """The pairs the raters labelled differently: query text, chunk and each rater's label."""
    texts = {j.query_id: j.query for j in store.judgments(origin="pooled")}
    chunks = chunk_by_id(corpus)
    rows: list[dict[str, object]] = []
    for qid, cid, labels in found.disagreements:
        chunk = chunks.get(cid)
        place = (
            f"{chunk.source} · {chunk.location}"
            if chunk and chunk.location
            else (chunk.source if chunk else cid)
        )
        rows.append(
            {"query": texts.get(qid, qid), "chunk": place, **{r: labels.get(r) for r in found.raters}}
        )
    return rows


EXPORTS = ("qrels.txt", "queries.jsonl", "judgments.csv")


def export_file(store: JudgmentStore, name: str) -> str:
    """qrels.txt (TREC graded, people's labels merged: no LLM grade, which read back would pass for a person's),
    queries.jsonl (their texts) or judgments.csv (every origin, LLM grades marked "llm")."""
    if name == "judgments.csv":
        return format_judgments_csv(store.judgments())
    queries, qrels = store.qrels("human")
    if name == "qrels.txt":
        return format_trec_qrels(qrels)
    if name == "queries.jsonl":
        return "".join(
            json.dumps({"_id": q, "text": t}, ensure_ascii=False) + "\n" for q, t in queries.items()
        )
    raise ValueError(f"unknown export {name!r}; one of {EXPORTS}")


def decode_upload(name: str, data: bytes) -> str:
    """An uploaded file's UTF-8 text (IngestError naming the file otherwise)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and upload it again."
        ) from exc


def known_query_texts(store: JudgmentStore) -> dict[str, str]:
    """Query ids this corpus knows, to their text: stored judgments and votes, sample query ids, the history and
    this session's Compare labels; each text also under the id old Compare downloads gave it
    (``legacy_query_id``), so such a file needs no queries.jsonl either."""
    known = {j.query_id: j.query for j in store.judgments()}
    known |= {v.query_id: v.query for v in store.votes()}
    for q in sample_queries():
        known.setdefault(q["_id"], q["text"])
        known.setdefault(query_id(q["text"]), q["text"])
    session_labels = state.get("cmp_labels").get(store.corpus_sha256) or {}
    for text in [*state.history(), *session_labels]:
        known.setdefault(query_id(text), text)
    for text in set(known.values()):
        known.setdefault(legacy_query_id(text), text)
    return known


def import_files(store: JudgmentStore, corpus: Corpus, files: Sequence[tuple[str, bytes]]) -> str:
    """Import judgments CSVs and TREC qrels (query texts from a queries.jsonl beside them or the store).

    Judged chunks that are not chunks of this corpus, and qrels queries whose text is unknown, are left out
    and counted in the message; nothing is imported when a file cannot be read.
    """
    chunk_ids = set(chunk_by_id(corpus))
    texts = known_query_texts(store)
    csvs, qrels_files = [], []
    for name, data in files:
        text = decode_upload(name, data)
        if name.lower().endswith(".jsonl"):
            texts |= read_queries_jsonl(text.splitlines(), name=name).queries
        elif name.lower().endswith(".csv"):
            csvs.append((name, parse_judgments_csv(text, name)))
        else:
            qrels_files.append((name, parse_trec_qrels(text, name)))
    now = time.time()
    items: list[Judgment] = []
    said: list[str] = []
    for name, parsed in csvs:
        keep = [j for j in parsed if j.chunk_id in chunk_ids]
        items += keep
        said.append(
            f"{name}: {len(keep)} judgment(s)"
            + _left_out(len(parsed) - len(keep), "chunk not in this corpus")
        )
    for name, qrels in qrels_files:
        unknown_queries = [qid for qid in qrels if qid not in texts]
        known = {
            qid: {c: g for c, g in docs.items() if c in chunk_ids}
            for qid, docs in qrels.items()
            if qid in texts
        }
        unknown_chunk = sum(len(qrels[qid]) - len(docs) for qid, docs in known.items())
        found = qrels_judgments(known, texts, rater=f"imported: {name}"[:200], time=now)
        # keyed by the text's own id, so the same query judged here and imported is one query
        items += [replace(j, query_id=query_id(j.query)) for j in found]
        n = len(found)
        said.append(
            f"{name}: {n} judgment(s)"
            + _left_out(unknown_chunk, "chunk not in this corpus")
            + _left_out(len(unknown_queries), "query without text: add its queries.jsonl to the upload")
        )
    added = store.add_judgments(items)
    return f"Imported {added} new judgment(s). " + "; ".join(said) + "."


def _left_out(n: int, why: str) -> str:
    return f" ({n} left out: {why})" if n else ""
