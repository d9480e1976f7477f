"""The pages' search paths are the core's: the Dimensions curve is core.search.matryoshka.truncation_curve, Compare is the engine.

A deterministic stand-in embedder (vectors from a hash of the text, Matryoshka-like spectrum, 2560 dims) keeps
these tests fast; what they pin is that the page glue (ui/dims.py, ui/compare.py) shows exactly what the core
computes, and that both equal an independent numpy computation.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from core.ingest import corpus_sha256
from core.search.engine import ModelIndex
from core.search.matryoshka import pseudo_queries, truncation_curve
from core.store import EmbeddingStore
from core.types import Chunk, Corpus, ModelSpec, SearchParams
from ui import compare, dims

DIM = 2560
SPEC = ModelSpec(
    name="hash-mrl", model_id="hash-mrl", dim=DIM, mrl_dims=(32, 64, 128, 256, 512, 1024, 2048, 2560)
)
K = 10


class HashEmbedder:
    """Unit vectors seeded by each text's hash; leading dims carry more weight (recall grows with d)."""

    spec = SPEC
    calls = 0
    cache_key = "hash-mrl|test"

    def _vecs(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        weight = 1.0 / np.sqrt(1.0 + np.arange(DIM, dtype=np.float32) / 32.0)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(DIM, dtype=np.float32) * weight
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        return self._vecs([f"q:{t}" for t in texts])

    def encode_documents(self, texts: list[str], **_: object) -> np.ndarray:
        return self._vecs(list(texts))


@pytest.fixture(scope="module")
def mi(tmp_path_factory) -> ModelIndex:
    embedder = HashEmbedder()
    chunks = tuple(
        Chunk(id=f"doc{i}.md#1", source=f"doc{i}.md", text=f"passage {i}", lang="en") for i in range(400)
    )
    corpus = Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="hash")
    vectors = embedder.encode_documents([c.text for c in chunks])
    store = EmbeddingStore(tmp_path_factory.mktemp("store"))
    return ModelIndex(embedder=embedder, corpus=corpus, vectors=vectors, store=store)


def _ranked(scores: np.ndarray, k: int) -> np.ndarray:
    """Independent exact top-k: sort every row by (score descending, row ascending)."""
    cols = np.arange(scores.shape[1])
    return np.array([np.lexsort((cols, -row))[:k] for row in scores])


def _numpy_curve(docs: np.ndarray, queries: np.ndarray, stops: list[int], exclude: np.ndarray | None) -> dict:
    def top(d: int) -> np.ndarray:
        x = docs[:, :d] / np.linalg.norm(docs[:, :d], axis=1, keepdims=True)
        q = queries[:, :d] / np.linalg.norm(queries[:, :d], axis=1, keepdims=True)
        scores = (q @ x.T).astype(np.float64)
        if exclude is not None:
            scores[np.arange(len(q)), exclude] = -np.inf
        return _ranked(scores, K)

    truth = top(docs.shape[1])
    return {d: np.mean([len(set(t) & set(g)) / K for t, g in zip(truth, top(d), strict=True)]) for d in stops}


@pytest.mark.parametrize("pseudo", [False, True])
def test_dimensions_page_curve_is_the_core_curve_and_numpy(mi, pseudo):
    if pseudo:
        qvecs, exclude = dims.query_set(mi, "A", "pseudo", [], 40)
        np.testing.assert_array_equal(exclude, pseudo_queries(len(mi.corpus.chunks), n=40))
    else:
        qvecs, exclude = mi.embed_queries([f"question {i}" for i in range(30)]), None
    stops = mi.offered_dims
    page = dims.truncation_rows(mi, qvecs, exclude, k=K)
    core = truncation_curve(mi.vectors, qvecs, dims=stops, k=K, exclude=exclude)
    assert [r["dims"] for r in page] == stops
    assert [r["recall"] for r in page] == [core.recall[d] for d in stops]
    assert all(r["exact ms/query"] >= 0 for r in page)
    expected = _numpy_curve(mi.vectors, qvecs, stops, exclude)
    assert [r["recall"] for r in page] == pytest.approx([expected[d] for d in stops])
    assert 0.0 < page[0]["recall"] < page[-1]["recall"] == 1.0


def test_dimensions_page_point_uses_the_same_curve_and_truth(mi):
    qvecs, exclude = dims.query_set(mi, "A", "pseudo", [], 30)
    curve = dims.curve(mi, qvecs, exclude, k=K)
    d = 256
    at_d = dims.point(mi, qvecs, exclude, d=d, k=K)
    assert at_d["truncation recall"] == curve.recall[d]
    assert at_d["exact ms/query"] == curve.ms_per_query[d]
    # end to end: HNSW at d (own row dropped) against the exact full-dim truth, computed independently
    idx, _ = mi.search_vectors(qvecs, SearchParams(k=K + 1, dims=d))
    hnsw = [[j for j in row if j != ex][:K] for row, ex in zip(idx.tolist(), exclude.tolist(), strict=True)]
    scores = (qvecs @ mi.vectors.T).astype(np.float64)
    scores[np.arange(len(qvecs)), exclude] = -np.inf
    truth = _ranked(scores, K)
    expected = np.mean([len(set(t) & set(h)) / K for t, h in zip(truth.tolist(), hnsw, strict=True)])
    assert at_d["end-to-end recall"] == pytest.approx(expected)
    np.testing.assert_array_equal(curve.truth, truth)


@pytest.mark.parametrize("query", ["how do tokens expire", "共识机制"])
def test_compare_page_side_is_the_engine_search_with_numpy_z_scores(mi, query):
    side = compare.search_side("A", mi, query, 5, None)
    engine = mi.search(query, SearchParams(k=5))
    assert [(h.chunk_id, h.score, h.rank) for h in side.result.hits] == [
        (h.chunk_id, h.score, h.rank) for h in engine.hits
    ]
    assert side.result.dims == engine.dims == DIM and side.model == SPEC.name
    qvec = mi.embed_queries([query])[0]
    every = mi.vectors @ qvec
    expected = [(h.score - every.mean()) / every.std() for h in engine.hits]
    assert side.z_scores == pytest.approx(expected, abs=1e-5)
    assert side.z_scores == mi.answer(query, SearchParams(k=5)).z_scores


def test_engine_answer_at_truncated_dims_standardises_against_truncated_vectors(mi):
    ans = mi.answer("rotate the signing key", SearchParams(k=5, dims=128, exact=True))
    np.testing.assert_array_equal(ans.query_vector, mi.embed_queries(["rotate the signing key"])[0])
    x = mi.vectors[:, :128] / np.linalg.norm(mi.vectors[:, :128], axis=1, keepdims=True)
    q = ans.query_vector[:128] / np.linalg.norm(ans.query_vector[:128])
    every = (x @ q).astype(np.float64)
    assert [h.chunk_index for h in ans.result.hits] == _ranked(every[None, :], 5)[0].tolist()
    expected = [(h.score - every.mean()) / every.std() for h in ans.result.hits]
    assert ans.z_scores == pytest.approx(expected, abs=1e-4)
    assert ans.result.hits == mi.search("rotate the signing key", SearchParams(k=5, dims=128, exact=True)).hits
