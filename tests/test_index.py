"""Truncation, exact search and the hnswlib adapter, checked on real all-MiniLM-L6-v2 embeddings."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.errors import SearchError, StoreError
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search.index import HnswIndex, IndexParams, exact_search, truncate
from core.store import EmbeddingStore

N_DOCS, N_QUERIES = 2000, 200


def vocab_words(n: int, *, skip: int = 0) -> list[str]:
    """Whole English words from MiniLM's own vocabulary: cheap, varied, real texts to embed."""
    spec = resolve_model("all-MiniLM-L6-v2")
    words = (Path(spec.model_id) / "vocab.txt").read_text(encoding="utf-8").split()
    good = [w for w in words if w.isascii() and w.isalpha() and len(w) >= 4]
    return good[skip : skip + n]


@pytest.fixture(scope="session")
def minilm():
    """The real bundled all-MiniLM-L6-v2, loaded once per session."""
    return load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")


@pytest.fixture(scope="session")
def word_vectors(minilm, request) -> tuple[np.ndarray, np.ndarray]:
    """(docs, queries): real MiniLM vectors of vocabulary words, kept in pytest's cache between runs."""
    store = EmbeddingStore(request.config.cache.mkdir("minilm-word-vectors"))
    docs, _ = store.embed(minilm, vocab_words(N_DOCS), batch_size=128)
    queries, _ = store.embed(minilm, vocab_words(N_QUERIES, skip=N_DOCS), batch_size=128)
    return docs, queries


def recall(truth: np.ndarray, got: np.ndarray) -> float:
    return float(
        np.mean([len(set(t) & set(g)) / len(t) for t, g in zip(truth.tolist(), got.tolist(), strict=True)])
    )


@pytest.mark.parametrize("dims", [384, 64])
def test_hnsw_top10_matches_exact_top10(word_vectors, dims):
    docs, queries = (truncate(a, dims) for a in word_vectors)
    truth, _ = exact_search(docs, queries, 10)
    index = HnswIndex.build(docs)
    got, scores = index.search(queries, k=10)
    assert recall(truth, got) >= 0.99
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "hits must come best first"
    # scores are cosine similarities of the returned rows
    np.testing.assert_allclose(scores[:, 0], np.einsum("ij,ij->i", docs[got[:, 0]], queries), atol=1e-5)


def test_truncate_gives_unit_vectors_equal_to_renormalised_slices(word_vectors):
    docs = word_vectors[0][:50]
    for d in (1, 32, 100, 384):
        t = truncate(docs, d)
        assert t.shape == (50, d) and t.dtype == np.float32 and t.flags.c_contiguous
        np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
        s = docs[:, :d]
        np.testing.assert_allclose(t, s / np.linalg.norm(s, axis=1, keepdims=True), atol=1e-6)
    assert not np.shares_memory(truncate(docs, 384), docs)


@pytest.mark.parametrize("bad", [0, -3, 385, 2.5, None])
def test_truncate_rejects_dims_outside_the_model_range(word_vectors, bad):
    with pytest.raises(SearchError, match="between 1 and 384"):
        truncate(word_vectors[0][:3], bad)


def test_exact_search_agrees_with_a_full_sort(word_vectors):
    docs, queries = word_vectors[0][:500], word_vectors[1][:7]
    idx, scores = exact_search(docs, queries, 5)
    full = queries @ docs.T
    np.testing.assert_array_equal(idx, np.argsort(-full, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(scores, np.sort(full, axis=1)[:, ::-1][:, :5], atol=1e-6)


def test_exact_search_breaks_ties_by_the_lower_row_even_at_the_k_th_place():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((50, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    docs = np.repeat(base, 40, axis=0)  # every vector 40 times: 40-way ties straddle the k-th place
    order = rng.permutation(len(docs))
    docs = docs[order]
    queries = base[:6]
    for k in (1, 7, 45, 100):
        idx, scores = exact_search(docs, queries, k)
        full = queries @ docs.T  # the same product exact_search ranks (one block)
        cols = np.arange(len(docs))
        expected = np.array([np.lexsort((cols, -row))[:k] for row in full])
        np.testing.assert_array_equal(idx, expected)
        np.testing.assert_array_equal(scores, np.take_along_axis(full, idx, axis=1))


def test_exact_search_never_returns_an_excluded_row(word_vectors):
    docs = word_vectors[0][:300]
    rows = np.arange(0, 300, 30)
    idx, _ = exact_search(docs, docs[rows], 5, exclude=rows)
    assert idx.shape == (10, 5) and not any(r in t for r, t in zip(rows, idx.tolist(), strict=True))
    full, _ = exact_search(docs, docs[rows], 6)
    np.testing.assert_array_equal(idx, full[:, 1:])  # a unit vector is its own best match


def test_k_larger_than_the_corpus_returns_every_item_once(word_vectors):
    docs, queries = word_vectors[0][:5], word_vectors[1][:3]
    index = HnswIndex.build(docs)
    labels, scores = index.search(queries, k=10)
    assert labels.shape == (3, 5)
    assert all(sorted(row) == [0, 1, 2, 3, 4] for row in labels.tolist())
    ex_idx, _ = exact_search(docs, queries, 10)
    np.testing.assert_array_equal(labels, ex_idx)


def test_ef_is_at_least_k_after_save_and_load(word_vectors, tmp_path):
    docs, queries = word_vectors
    params = IndexParams(ef_search=20)
    index = HnswIndex.build(docs, params=params)
    path = tmp_path / "words.hnsw"
    index.save(path)
    loaded = HnswIndex.load(path, params=params)
    assert loaded.ef == 20, "hnswlib forgets ef on load; the adapter must restore it"
    assert loaded.nbytes == path.stat().st_size
    labels, _ = loaded.search(queries, k=150)  # k > ef: hnswlib alone would fail or lose recall
    truth, _ = exact_search(docs, queries, 150)
    assert labels.shape == (N_QUERIES, 150)
    assert loaded.ef >= 150
    assert recall(truth, labels) >= 0.99


def test_a_corrupt_index_file_is_refused_not_loaded(word_vectors, tmp_path):
    index = HnswIndex.build(word_vectors[0][:300])
    path = tmp_path / "x.hnsw"
    index.save(path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(StoreError, match="checksum"):
        HnswIndex.load(path)


def test_unnormalised_vectors_are_refused(word_vectors):
    with pytest.raises(SearchError, match="not L2-normalised"):
        HnswIndex.build(word_vectors[0][:20, :64])  # a raw slice is no longer unit length


def test_concurrent_searches_with_different_k_agree_with_sequential_ones(word_vectors):
    docs, queries = word_vectors
    index = HnswIndex.build(docs)
    ks = [5, 100, 10, 200, 1]
    expected = {k: exact_search(docs, queries[:20], k)[0] for k in ks}
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for _ in range(5):
                got = index.search(queries[:20], k=k)[0]
                assert got.shape == (20, k)
                assert recall(expected[k], got) >= 0.95
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in ks * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_invalid_k_is_refused_with_the_valid_range(word_vectors):
    index = HnswIndex.build(word_vectors[0][:10])
    with pytest.raises(SearchError, match="positive integer"):
        index.search(word_vectors[1][:1], k=0)
