"""The engine facade on a small real corpus with the real bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import core.search.engine as engine_mod
from core.errors import IngestError, SearchError
from core.ingest import corpus_sha256
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.store import EmbeddingStore
from core.types import Chunk, Corpus, SearchParams

PASSAGES = {
    "auth.md#1": "JWT authentication: after login the server signs a JSON Web Token with its secret key; the client "
    "sends it in the Authorization: Bearer header and the server verifies the signature on every request.",
    "chain.md#1": "Blockchain consensus mechanisms such as proof of work and proof of stake let nodes agree on "
    "the order of blocks without trusting each other.",
    "bread.md#1": "Knead the bread dough for ten minutes, then let it rise in a warm place for about an hour "
    "until it doubles in size.",
    "billing.md#1": "Invoices are due thirty days after delivery; late payments incur a two percent monthly fee.",
    "garden.md#1": "Water tomato plants deeply twice a week and mulch the soil to keep moisture in.",
    "db.md#1": "Use a database connection pool so that each web request does not open a new TCP connection.",
    "space.md#1": "The James Webb Space Telescope observes the universe in infrared light from the L2 point.",
    "cats.md#1": "Cats sleep for up to sixteen hours a day and are most active at dawn and dusk.",
    "rate.md#1": "The public API allows one hundred requests per minute per key; excess calls get HTTP 429.",
    "python.md#1": "A Python list comprehension builds a new list from an iterable in a single expression.",
}
QUERIES = {
    "How do I implement user authentication with JWT tokens?": "auth.md#1",
    "Explain the consensus mechanism in blockchain": "chain.md#1",
    "how long should bread dough rise": "bread.md#1",
    "what happens if I send too many API requests": "rate.md#1",
}


def make_corpus(ids) -> Corpus:
    chunks = tuple(Chunk(id=i, source=i.split("#")[0], text=PASSAGES[i], lang="en") for i in ids)
    return Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="test")


@pytest.fixture(scope="module")
def minilm():
    """The real bundled all-MiniLM-L6-v2 (loaded once for this module)."""
    return load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")


@pytest.fixture(scope="module")
def built(minilm, tmp_path_factory):
    store = EmbeddingStore(tmp_path_factory.mktemp("store"))
    return engine_mod.build_model_index(make_corpus(PASSAGES), minilm, store=store), store


@pytest.mark.parametrize("exact", [False, True])
def test_the_right_passage_ranks_first(built, exact):
    mi, _ = built
    for query, want in QUERIES.items():
        result = mi.search(query, SearchParams(k=3, exact=exact))
        assert result.hits[0].chunk_id == want, (query, [h.chunk_id for h in result.hits])
        assert [h.rank for h in result.hits] == [1, 2, 3]
        assert result.hits[0].score > result.hits[1].score
        assert result.embed_ms > 0 and result.search_ms > 0 and result.dims == 384


def test_first_build_reports_what_it_cost(built):
    mi, _ = built
    s = mi.stats
    assert (s.chunks, s.embedded, s.dims) == (len(PASSAGES), len(PASSAGES), 384)
    assert s.model_calls >= 1 and s.index_bytes > len(PASSAGES) * 384 * 4
    assert not mi.vectors.flags.writeable


def test_rebuilding_the_same_corpus_makes_no_model_calls_and_loads_the_index(built, minilm, monkeypatch):
    mi, store = built

    def no_build(*a, **k):
        raise AssertionError("the cached index should have been loaded, not rebuilt")

    monkeypatch.setattr(engine_mod.HnswIndex, "build", no_build)
    again = engine_mod.build_model_index(make_corpus(PASSAGES), minilm, store=store)
    assert again.stats.embedded == 0 and again.stats.model_calls == 0
    assert again.search("bread dough rising time", SearchParams(k=1)).hits[0].chunk_id == "bread.md#1"


def test_a_grown_corpus_embeds_only_the_new_chunks(minilm, tmp_path):
    store = EmbeddingStore(tmp_path)
    ids = list(PASSAGES)
    engine_mod.build_model_index(make_corpus(ids[:6]), minilm, store=store)
    grown = engine_mod.build_model_index(make_corpus(ids), minilm, store=store)
    assert grown.stats.embedded == 4 and grown.stats.chunks == 10


def test_changing_dims_never_re_embeds_the_corpus(built, minilm):
    mi, _ = built
    calls = minilm.calls
    for d in (64, 128, 384, 64):
        result = mi.search("JWT bearer token signature", SearchParams(k=2, dims=d))
        assert result.dims == d and len(result.hits) == 2
    assert minilm.calls == calls + 4, "only the four query batches may reach the model"
    v = mi.vectors_at(64)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_concurrent_requests_for_one_dims_build_its_index_once(built, monkeypatch):
    mi, _ = built
    real_build, builds = engine_mod.HnswIndex.build, []

    def counting_build(*a, **k):
        builds.append(1)
        return real_build(*a, **k)

    monkeypatch.setattr(engine_mod.HnswIndex, "build", counting_build)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(mi.index(48))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(got) == 6 and all(g is got[0] for g in got)


def test_search_many_matches_single_searches(built):
    mi, _ = built
    many = mi.search_many(list(QUERIES), SearchParams(k=4))
    for query, result in zip(QUERIES, many, strict=True):
        single = mi.search(query, SearchParams(k=4))
        assert [h.chunk_id for h in result.hits] == [h.chunk_id for h in single.hits]
        assert result.hits[0].score == pytest.approx(single.hits[0].score, abs=1e-5)


def test_k_larger_than_the_corpus_returns_every_chunk(built):
    mi, _ = built
    for exact in (False, True):
        hits = mi.search("anything at all", SearchParams(k=50, exact=exact)).hits
        assert sorted(h.chunk_id for h in hits) == sorted(PASSAGES)


def test_bad_inputs_name_the_fix(built):
    mi, _ = built
    with pytest.raises(SearchError, match="between 1 and 384"):
        mi.search("jwt", SearchParams(dims=1000))
    with pytest.raises(SearchError, match="Empty query"):
        mi.search("   ")
    with pytest.raises(SearchError, match="positive integer"):
        mi.search("jwt", SearchParams(k=0))


def test_a_corrupt_cached_index_is_rebuilt(minilm, tmp_path):
    store = EmbeddingStore(tmp_path)
    first = engine_mod.build_model_index(make_corpus(PASSAGES), minilm, store=store)
    (path,) = list((tmp_path / "blobs").rglob("*.hnsw"))
    path.write_bytes(path.read_bytes()[:100])
    again = engine_mod.build_model_index(make_corpus(PASSAGES), minilm, store=store)
    assert again.search("bread dough", SearchParams(k=1)).hits[0].chunk_id == "bread.md#1"
    assert again.stats.index_bytes == first.stats.index_bytes
    assert path.stat().st_size == first.stats.index_bytes


def test_an_empty_corpus_is_refused(minilm, tmp_path):
    with pytest.raises(IngestError, match="no chunks"):
        engine_mod.build_model_index(make_corpus([]), minilm, store=EmbeddingStore(tmp_path))


def test_a_query_holding_a_lone_surrogate_is_cleaned_not_a_crash(built):
    """A pasted query with an unpaired UTF-16 surrogate reaches the tokenizer cleaned (it used to raise there)."""
    mi, _ = built
    result = mi.search("JWT token \ud800 signing", SearchParams(k=3))
    assert len(result.hits) == 3
    with pytest.raises(SearchError):
        mi.search("\u200b\u202e ", SearchParams(k=3))  # nothing visible: refused like an empty query
