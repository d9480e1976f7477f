"""Hybrid systems: RRF and convex fusion checked by hand, HybridSystem over the real MiniLM and a keyword
stand-in, and the cross-validated weight on constructed runs whose best weight is known."""

from __future__ import annotations

import math

import pytest

from core.errors import SearchError
from core.evaluation import EvaluationError, tune_weight
from core.ingest import corpus_sha256
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search import HybridSystem, build_model_index, convex, fuse, fused_order, rrf
from core.search.systems import System
from core.store import EmbeddingStore
from core.types import Chunk, Corpus, Hit, SearchParams, SearchResult

PASSAGES = {
    "auth.md#1": "JWT authentication: the server signs a JSON Web Token with its secret key; the client sends it "
    "in the Authorization header.",
    "hs256.md#1": "Error E4012: token signature algorithm HS256 rejected by the gateway policy.",
    "chain.md#1": "Blockchain consensus mechanisms such as proof of work let nodes agree on the order of blocks.",
    "bread.md#1": "Knead the bread dough for ten minutes, then let it rise in a warm place for an hour.",
    "rate.md#1": "The public API allows one hundred requests per minute per key; excess calls get HTTP 429.",
    "garden.md#1": "Water tomato plants deeply twice a week and mulch the soil to keep moisture in.",
}


def make_corpus() -> Corpus:
    chunks = tuple(Chunk(id=i, source=i.split("#")[0], text=t, lang="en") for i, t in PASSAGES.items())
    return Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="fusion-test")


class KeywordSystem:
    """A tiny lexical stand-in (word overlap), where a real BM25 is not what is tested."""

    def __init__(self, corpus: Corpus, *, embed_ms: float = 0.5, search_ms: float = 0.25) -> None:
        self._corpus, self.embed_ms, self.search_ms = corpus, embed_ms, search_ms

    name, kind, index_bytes, build_seconds = "words", "bm25", 1000, 0.5

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    def search_many(self, queries, params=SearchParams()):
        out = []
        for q in queries:
            words = {w.strip("?.,:;").lower() for w in q.split()}
            scored = []
            for i, c in enumerate(self._corpus.chunks):
                hit = len(words & {w.strip("?.,:;").lower() for w in c.text.split()})
                if hit:
                    scored.append((float(hit), i))
            scored.sort(key=lambda t: (-t[0], t[1]))
            hits = tuple(
                Hit(rank=r, score=s, chunk_index=i, chunk_id=self._corpus.chunks[i].id)
                for r, (s, i) in enumerate(scored[: params.k], start=1)
            )
            out.append(SearchResult(hits=hits, embed_ms=self.embed_ms, search_ms=self.search_ms, dims=0))
        return out


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return make_corpus()


@pytest.fixture(scope="module")
def dense(corpus, tmp_path_factory):
    minilm = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    return build_model_index(corpus, minilm, store=EmbeddingStore(tmp_path_factory.mktemp("store")))


# -- the fusions, against hand-computed values ------------------------------------------------------------


def test_rrf_matches_the_hand_computed_scores():
    # list A: x, y, z; list B: z, x (w absent from A). k = 60, ranks from 1.
    fused = rrf([["x", "y", "z"], ["z", "x"]])
    assert fused["x"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["z"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["y"] == pytest.approx(1 / 62)
    assert [d for d, _ in fused_order(fused)] == ["x", "z", "y"]  # x: 0.032522 > z: 0.032266 > y
    assert rrf([["a"]], k=0)["a"] == 1.0


def test_rrf_ignores_score_scales_and_convex_normalises_them():
    cosine = {"a": 0.91, "b": 0.90, "c": 0.10}
    bm25 = {"c": 31.0, "b": 12.0, "a": 11.0}
    assert fuse(cosine, bm25) == rrf([["a", "b", "c"], ["c", "b", "a"]])
    mixed = convex(cosine, bm25, weight=0.7)  # minmax: a 1, b .9875, c 0 | c 1, b .05, a 0
    assert mixed["a"] == pytest.approx(0.7)
    assert mixed["b"] == pytest.approx(0.7 * 0.8 / 0.81 + 0.3 * 1 / 20)
    assert mixed["c"] == pytest.approx(0.3)
    assert convex({"a": 2.0}, {"b": 5.0}, weight=0.5) == {"a": 0.5, "b": 0.5}  # missing side counts 0
    with pytest.raises(SearchError, match="outside 0..1"):
        convex(cosine, bm25, weight=1.5)
    with pytest.raises(SearchError, match="rrf"):
        fuse(cosine, bm25, method="borda")


# -- HybridSystem ----------------------------------------------------------------------------------------------


def test_hybrid_is_a_system_with_both_sides_costs(dense, corpus):
    words = KeywordSystem(corpus)
    hybrid = HybridSystem(dense, words)
    assert isinstance(hybrid, System)
    assert hybrid.name == "hybrid:all-MiniLM-L6-v2+words" and hybrid.kind == "hybrid"
    assert HybridSystem(dense, words, method="convex", weight=0.3).name == "hybrid:all-MiniLM-L6-v2+words@0.3"
    assert hybrid.index_bytes == dense.index_bytes + 1000 > 1000
    assert hybrid.build_seconds == pytest.approx(dense.build_seconds + 0.5)


def test_hybrid_fuses_deeper_lists_and_reports_where_the_time_went(dense, corpus):
    words = KeywordSystem(corpus)
    query = "HS256 rejected E4012"
    hybrid = HybridSystem(dense, words, depth=5)
    (res,) = hybrid.search_many([query], SearchParams(k=3))
    (alone,) = dense.search_many([query], SearchParams(k=5))
    assert len(res.hits) == 3 and [h.rank for h in res.hits] == [1, 2, 3]
    assert res.hits[0].chunk_id == "hs256.md#1"  # both sides agree on the identifier query
    expected = fuse(
        {h.chunk_index: h.score for h in alone.hits},
        {h.chunk_index: h.score for h in words.search_many([query], SearchParams(k=5))[0].hits},
    )
    assert [h.chunk_index for h in res.hits] == [i for i, _ in fused_order(expected)[:3]]
    assert res.embed_ms > words.embed_ms and res.search_ms > words.search_ms  # both sides, added up
    assert res.extra["fusion_ms"] > 0 and res.extra["depth"] == 5


def test_convex_weight_one_is_the_first_system_and_zero_the_second(dense, corpus):
    words = KeywordSystem(corpus)
    q = "how long should bread dough rise"
    first = [h.chunk_id for h in dense.search_many([q], SearchParams(k=3, exact=True))[0].hits]
    second = [h.chunk_id for h in words.search_many([q], SearchParams(k=3))[0].hits]
    only_a = HybridSystem(dense, words, method="convex", weight=1.0).search_many(
        [q], SearchParams(k=3, exact=True)
    )
    only_b = HybridSystem(dense, words, method="convex", weight=0.0).search_many(
        [q], SearchParams(k=3, exact=True)
    )
    assert [h.chunk_id for h in only_a[0].hits] == first
    assert [h.chunk_id for h in only_b[0].hits][: len(second)] == second


def test_hybrid_refuses_two_corpora(dense):
    other = Corpus(chunks=make_corpus().chunks[:2], files=(), sha256="0" * 64, name="other")
    with pytest.raises(SearchError, match="different corpora"):
        HybridSystem(dense, KeywordSystem(other))


# -- cross-validated weight --------------------------------------------------------------------------------


GRID = (0.0, 0.25, 0.45, 0.7, 1.0)


def _constructed(n: int = 6):
    """Runs where, of GRID, only w = 0.45 ranks the relevant doc first for every query.

    Scores (already min-max normalised): A r .5, x 1, y 0; B r .8, x 0, y 1. Fused: r = .8 - .3w, x = w,
    y = 1 - w, so r is first iff 0.286 < w < 0.615.
    """
    run_a = {f"q{i}": {"r": 0.5, "x": 1.0, "y": 0.0} for i in range(n)}
    run_b = {f"q{i}": {"r": 0.8, "x": 0.0, "y": 1.0} for i in range(n)}
    return run_a, run_b, {f"q{i}": {"r": 1} for i in range(n)}


def test_cross_validation_finds_the_known_best_weight():
    run_a, run_b, qrels = _constructed()
    tuned = tune_weight(run_a, run_b, qrels, folds=3, grid=GRID)
    assert tuned.weights == (0.45, 0.45, 0.45) and tuned.final_weight == 0.45
    assert tuned.heldout_ndcg == pytest.approx(1.0)
    assert tuned.curve[0.25] < 1.0 and tuned.curve[0.7] < 1.0
    held = [q for f in tuned.folds for q in f.queries]
    assert sorted(held) == sorted(qrels)  # every query held out exactly once
    assert "overfitting" in tuned.note and "3-fold" in tuned.note


def test_held_out_ndcg_is_lower_when_a_query_disagrees_with_the_rest():
    run_a, run_b, qrels = _constructed()
    # one odd query whose relevant doc is first only for w < 0.2: r = 1 - w, x = .75 + .25w, z = .5w
    run_a["odd"], run_b["odd"] = {"r": 0.0, "x": 1.0, "z": 0.5}, {"r": 1.0, "x": 0.75, "z": 0.0}
    qrels["odd"] = {"r": 1}
    tuned = tune_weight(run_a, run_b, qrels, folds=7, grid=GRID)  # leave-one-out
    odd = next(f for f in tuned.folds if f.queries == ("odd",))
    assert odd.weight == 0.45 and odd.heldout_ndcg == pytest.approx(1 / math.log2(3))  # r second
    assert tuned.heldout_ndcg < 1.0 and tuned.final_weight == 0.45


def test_tuning_refuses_too_few_queries():
    run_a, run_b, qrels = _constructed(1)
    with pytest.raises(EvaluationError, match="folds"):
        tune_weight(run_a, run_b, qrels, folds=5)
