"""Compare's z-scores at scale: exact (every chunk scored) up to Z_EXACT_MAX_CHUNKS, from the corpus's mean and
covariance above it (the same figures), and no pass over every chunk per answer there."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import core.search.engine as engine_mod
from core.ingest import corpus_sha256
from core.search import ModelIndex, truncate
from core.store import EmbeddingStore
from core.types import Chunk, Corpus, ModelSpec, SearchParams

DIM = 64
SPEC = ModelSpec(name="hash-64", model_id="hash-64", dim=DIM)


class HashEmbedder:
    """Unit vectors from a hash of each text, with a shared offset so scores have a non-zero mean."""

    spec = SPEC
    calls = 0
    cache_key = "hash-64|test"

    def _vecs(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(DIM, dtype=np.float32) + 0.5
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        return self._vecs([f"q:{t}" for t in texts])

    def encode_documents(self, texts: list[str], **_: object) -> np.ndarray:
        return self._vecs(list(texts))


@pytest.fixture()
def mi(tmp_path) -> ModelIndex:
    embedder = HashEmbedder()
    chunks = tuple(
        Chunk(id=f"d{i}.md#1", source=f"d{i}.md", text=f"passage {i}", lang="en") for i in range(600)
    )
    corpus = Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="hash")
    vectors = embedder.encode_documents([c.text for c in chunks])
    return ModelIndex(embedder=embedder, corpus=corpus, vectors=vectors, store=EmbeddingStore(tmp_path))


def _numpy_z(mi: ModelIndex, qvec: np.ndarray, scores: list[float], d: int) -> list[float]:
    x = truncate(mi.vectors, d).astype(np.float64)
    every = x @ truncate(qvec, d).astype(np.float64)
    return [(s - every.mean()) / every.std() for s in scores]


@pytest.mark.parametrize("dims", [None, 16])
def test_above_the_threshold_z_scores_come_from_moments_and_equal_the_exact_ones(mi, monkeypatch, dims):
    params = SearchParams(k=5, dims=dims)
    exact = mi.answer("how do tokens expire", params)
    monkeypatch.setattr(engine_mod, "Z_EXACT_MAX_CHUNKS", 100)  # 600 chunks: now "large"
    approx = mi.answer("how do tokens expire", params)
    assert [h.chunk_id for h in approx.result.hits] == [h.chunk_id for h in exact.result.hits]
    expected = _numpy_z(mi, exact.query_vector, [h.score for h in exact.result.hits], dims or DIM)
    assert approx.z_scores == pytest.approx(expected, abs=1e-5)
    assert approx.z_scores == pytest.approx(exact.z_scores, abs=1e-5)
    assert (mi.dim if dims is None else dims, "prefix") in mi._moments  # the moments path ran


def test_above_the_threshold_an_answer_does_not_score_every_chunk(mi, monkeypatch):
    monkeypatch.setattr(engine_mod, "Z_EXACT_MAX_CHUNKS", 100)
    mi.index()
    mi.moments()  # what build_model_index does above the threshold

    def every_chunk(*_a: object, **_k: object) -> np.ndarray:
        raise AssertionError("the answer scored every chunk")

    monkeypatch.setattr(mi, "vectors_at", every_chunk)
    answer = mi.answer("rotate the signing key", SearchParams(k=10))
    assert len(answer.z_scores) == 10 and all(np.isfinite(answer.z_scores))


def test_below_the_threshold_z_scores_are_exact_as_before(mi, monkeypatch):
    def no_moments(*_a: object, **_k: object) -> object:
        raise AssertionError("moments used below the threshold")

    monkeypatch.setattr(mi, "moments", no_moments)
    answer = mi.answer("how do tokens expire", SearchParams(k=5))
    every = mi.vectors @ answer.query_vector  # float32, as the engine always computed it
    expected = tuple((h.score - float(every.mean())) / float(every.std()) for h in answer.result.hits)
    assert answer.z_scores == expected


def test_pca_z_scores_from_moments_match_exact(mi, monkeypatch):
    q = mi.embed_queries(["what is the retention policy"])[0]
    idx, scores = mi.search_vectors(q, SearchParams(k=5, dims=16, reduction="pca", exact=True))
    exact = mi.z_scores(q, scores[0], dims=16, reduction="pca")
    monkeypatch.setattr(engine_mod, "Z_EXACT_MAX_CHUNKS", 100)
    assert mi.z_scores(q, scores[0], dims=16, reduction="pca") == pytest.approx(exact, abs=1e-5)
