"""Concurrency: 8 sessions search (full and truncated dims, HNSW and exact) while a 9th rebuilds the same corpus.

Sessions share models and indexes through ui.resources.Registry exactly as the app does. The rebuilding
thread clears the model's embeddings from the shared store, re-embeds the corpus with the real model,
builds a new ModelIndex and swaps it into the registry, twice. hnswlib forbids add_items alongside
knn_query; the design avoids it because every HnswIndex is immutable once built (a rebuild creates a new
object) and each per-dims index is built once under its own lock before anyone can query it.
"""

from __future__ import annotations

import threading
import time

import pytest

from core.ingest import corpus_sha256, load_corpus
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search.engine import ModelIndex, build_model_index
from core.search.index import IndexParams
from core.store import EmbeddingStore
from core.types import Corpus, SearchParams
from ui.resources import SAMPLE_DIR, Registry

pytestmark = pytest.mark.slow  # eight sessions searching while a real model rebuilds

SESSIONS = 8
ROUNDS = 4
CHUNKS = 48  # small: the rebuild re-embeds them with the real model twice while the sessions search
DIMS = (None, 32, 96, 192)  # full 384 plus three truncations, each index built lazily under contention
QUERIES = [
    "如何实现基于 JWT 的用户鉴权？",
    "Explain the consensus mechanism in blockchain",
    "How do I rotate the signing key?",
    "rate limit per API token",
    "refund policy for annual plans",
    "HNSW graph parameters M and ef",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    full = load_corpus(SAMPLE_DIR / "docs")
    chunks = full.chunks[:: len(full.chunks) // CHUNKS][:CHUNKS]  # spread over every folder of the sample
    corpus = Corpus(chunks, (), corpus_sha256(chunks), f"sample-{CHUNKS}")
    model = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    store = EmbeddingStore(tmp_path_factory.mktemp("store"))
    mi = build_model_index(corpus, model, store=store, params=IndexParams())
    # single-threaded ground truth on an independent ModelIndex (own store, so indexes are built separately)
    ref = ModelIndex(embedder=model, corpus=corpus, vectors=mi.vectors,
                     store=EmbeddingStore(tmp_path_factory.mktemp("ref")))  # fmt: skip
    qvecs = {q: v for q, v in zip(QUERIES, ref.embed_queries(QUERIES), strict=True)}
    expected = {
        (q, d, exact): ids(ref, qvecs[q], d, exact) for q in QUERIES for d in DIMS for exact in (True, False)
    }
    return corpus, model, store, mi, qvecs, expected


def ids(mi: ModelIndex, qvec, dims, exact) -> list[str]:
    """Top-5 chunk ids for one query vector through ModelIndex.search_vectors (what search() calls)."""
    rows, _ = mi.search_vectors(qvec, SearchParams(k=5, dims=dims, exact=exact))
    return [mi.corpus.chunks[int(i)].id for i in rows[0]]


def test_eight_sessions_search_while_one_rebuilds(setup):
    corpus, model, store, mi, qvecs, expected = setup
    registry: Registry[ModelIndex] = Registry(capacity=4)
    key = (corpus.sha256, model.cache_key, IndexParams())
    registry.put(key, mi)
    errors: list[BaseException] = []
    answers: list[tuple] = []
    lock = threading.Lock()
    start = threading.Barrier(SESSIONS + 1)
    rebuilt: list[ModelIndex] = []
    done = threading.Event()

    def session(n: int) -> None:
        try:
            start.wait()
            r = 0
            deadline = time.monotonic() + 600  # a bound, not a target: the rebuilds normally end far sooner
            while r < ROUNDS or (not done.is_set() and time.monotonic() < deadline):  # until the rebuilds end
                r += 1
                for i, q in enumerate(QUERIES):
                    d = DIMS[(n + r + i) % len(DIMS)]
                    exact = (n + i) % 3 == 0
                    current = registry.get(key)  # whichever index is registered right now
                    if r <= ROUNDS and i == r % len(
                        QUERIES
                    ):  # once a round the whole path, query embedding included
                        got = [h.chunk_id for h in current.search(q, SearchParams(k=5, dims=d, exact=exact)).hits]
                    else:
                        got = ids(current, qvecs[q], d, exact)
                    with lock:
                        answers.append((q, d, exact, got, current))
        except BaseException as exc:
            errors.append(exc)

    def rebuilder() -> None:
        try:
            start.wait()
            for _ in range(2):
                store.clear(model.cache_key)  # the next build must embed again and rewrite every file
                new = build_model_index(corpus, model, store=store, params=IndexParams())
                new.index(96)  # and a truncated index, written to the same blob paths sessions read
                registry.put(key, new)
                rebuilt.append(new)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
    threads.append(threading.Thread(target=rebuilder))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    assert not errors, errors
    assert len(answers) >= SESSIONS * ROUNDS * len(QUERIES)
    assert len(rebuilt) == 2 and rebuilt[-1].stats.embedded == len(corpus.chunks)

    # exact search is deterministic: every concurrent answer equals the single-threaded one
    wrong = [
        (q, d, got, expected[(q, d, True)])
        for q, d, exact, got, _ in answers
        if exact and got != expected[(q, d, True)]
    ]
    assert not wrong, wrong[:3]
    # HNSW answers equal what the same (immutable) index returns single-threaded afterwards
    for q, d, exact, got, index_obj in answers:
        if not exact:
            assert got == ids(index_obj, qvecs[q], d, False), (q, d)
    # and on this small corpus every HNSW top-1 matches the single-threaded HNSW reference
    top1 = [(q, d) for q, d, exact, got, _ in answers if not exact and got[0] != expected[(q, d, False)][0]]
    assert not top1, top1[:3]
    # sessions were served by the original and by rebuilt indexes: the swaps happened mid-traffic
    served = {id(obj) for *_, obj in answers}
    assert id(mi) in served and id(rebuilt[-1]) in served
    print(f"\n{len(answers)} searches by {SESSIONS} sessions across {len(served)} index generations")
