"""The frontier builds one HNSW graph per dimension and reuses it: the model's own index at that dimension (kept in
the store, loaded by a second sweep), float16 HNSW over the same graph with rounded values. With single-threaded
(repeatable) builds the reused graph gives the recall a graph built inside the sweep gives."""

from __future__ import annotations

import numpy as np
import pytest

import core.search.index as index_mod
from core.frontier.measure import sweep, sweep_index
from core.ingest import corpus_sha256
from core.search import HnswIndex, ModelIndex, truncate
from core.store import EmbeddingStore
from core.types import Chunk, Corpus, ModelSpec

N, DIM = 1500, 48
SPEC = ModelSpec(name="toy", model_id="toy", dim=DIM)  # not trained for truncation: prefix and PCA rows


class Stub:
    spec = SPEC
    calls = 0
    cache_key = "toy|test"


def _clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, d)).astype(np.float32)
    x = centres[rng.integers(0, 20, n)] + 0.8 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture()
def single_thread(monkeypatch):
    monkeypatch.setattr(index_mod, "cpu_cores", lambda: 1)  # repeatable hnswlib builds


def _mi(store_root) -> ModelIndex:
    chunks = tuple(Chunk(id=f"c{i}", source="f.md", text=f"t{i}", lang="en") for i in range(N))
    corpus = Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="toy")
    return ModelIndex(
        embedder=Stub(), corpus=corpus, vectors=_clustered(N, DIM, 3), store=EmbeddingStore(store_root)
    )


def _hnsw(rows) -> dict:
    return {(r.dims, r.precision, r.reduction): r.recall for r in rows if r.index == "hnsw"}


def test_reused_graphs_give_the_recall_of_graphs_built_in_the_sweep(single_thread, tmp_path, monkeypatch):
    mi = _mi(tmp_path)
    rows = np.arange(0, N, 15)
    queries, exclude = mi.vectors[rows], rows
    builds: list[int] = []
    real = HnswIndex.build.__func__

    def counting(cls, vectors, **kw):
        builds.append(np.asarray(vectors).shape[1])
        return real(cls, vectors, **kw)

    monkeypatch.setattr(HnswIndex, "build", classmethod(counting))
    reused = sweep_index(mi, queries, k=10, exclude=exclude, latency_queries=5)
    prefix_dims, pca_dims = mi.swept_dims, [d for d in mi.swept_dims if d < DIM]
    assert sorted(builds) == sorted(prefix_dims + pca_dims)  # one graph per dimension and reduction, no more
    # the same sweep with graphs built inside it (as before: no model index), prefix rows
    own = sweep(mi.vectors, queries, model="toy", dims=prefix_dims, k=10, exclude=exclude, latency_queries=5,
                params=mi.params, mrl_trained=False)  # fmt: skip
    got, want = _hnsw(reused.rows), _hnsw(own.rows)
    for key, recall in want.items():
        assert got[key] == recall, key
    # a second sweep loads every graph from the store: nothing is built
    builds.clear()
    again = sweep_index(_mi(tmp_path), queries, k=10, exclude=exclude, latency_queries=5)
    assert builds == [] and _hnsw(again.rows) == got


def test_float16_hnsw_searches_the_float32_graph_with_rounded_values(single_thread):
    docs = _clustered(N, DIM, 5)
    graph = HnswIndex.build(docs)
    half = docs.astype(np.float16).astype(np.float32)
    rounded = graph.with_values(half)
    stored = np.asarray(rounded._raw.get_items(np.arange(N)), dtype=np.float32)
    np.testing.assert_array_equal(stored, half)
    q = truncate(_clustered(40, DIM, 6), DIM)
    a, _ = graph.search(q, k=10)
    b, _ = rounded.search(q, k=10)
    built = HnswIndex.build(half / np.linalg.norm(half, axis=1, keepdims=True))
    c, _ = built.search(q, k=10)
    same = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a.tolist(), b.tolist(), strict=True)])
    rebuilt = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a.tolist(), c.tolist(), strict=True)])
    assert same >= 0.98 and abs(same - rebuilt) <= 0.02  # as close to float32's lists as a float16 rebuild
