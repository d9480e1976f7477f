"""The corpus map (issue 30): layouts, regions, queries placed in regions, per-region wins, moved chunks, the CLI.

The sample corpus with the real bundled all-MiniLM-L6-v2 (A) and multilingual-e5-small (B); vectors come from
the shared test store when it holds them. Rules on constructed lists first, where a hand computation is clearest.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from core.cli.map import main as map_main
from core.corpus_map import (
    TIE_BAND,
    CorpusMap,
    MapError,
    QueryPoint,
    Region,
    build_map,
    layout,
    moved_most,
    place_queries,
    region_figures,
)
from core.corpus_map import moved as moved_module
from core.datasets import load_judged_folder
from core.evaluation import run_retrieval
from core.evaluation.metrics import evaluate_per_query
from core.models import load_embedder, resolve_model
from core.search import build_model_index
from core.store import EmbeddingStore

SAMPLE = Path(__file__).resolve().parents[1] / "sample_corpus"
A_NAME, B_NAME = "all-MiniLM-L6-v2", "multilingual-e5-small"


# -- rules on constructed lists ---------------------------------------------------------------------


def _region(rid: int, chunks: list[str]) -> Region:
    return Region(rid, f"r{rid}", (f"r{rid}",), tuple(chunks), {}, {}, (0.0, 0.0))


def test_a_judged_query_sits_at_its_best_fused_relevant_chunk_and_wins_by_ndcg_outside_the_tie_band():
    regions_of = {"x1": 0, "x2": 0, "y1": 1, "y2": 1}
    qrels = {"q": {"y2": 1}}
    # A ranks the relevant y2 first, B third: A's nDCG@10 is 1, B's 1/log2(4) = 0.5
    points = place_queries(
        {"q": "text"}, {"q": ["y2", "x1", "x2"]}, {"q": ["x1", "x2", "y2"]}, regions_of, qrels=qrels
    )
    (p,) = points
    assert (p.chunk_id, p.region, p.judged, p.outcome) == ("y2", 1, True, "A")
    assert p.diff == pytest.approx(0.5)
    assert p.overlap == pytest.approx(3 / 10)


def test_an_unjudged_query_goes_to_the_side_that_stays_in_its_region_and_equal_lists_tie():
    regions_of = {"x1": 0, "x2": 0, "x3": 0, "y1": 1, "y2": 1}
    (p,) = place_queries({"q": ""}, {"q": ["x1", "x2", "x3"]}, {"q": ["x1", "y1", "y2"]}, regions_of)
    assert (p.chunk_id, p.region, p.judged, p.diff, p.outcome) == ("x1", 0, False, None, "A")
    (same,) = place_queries({"q": ""}, {"q": ["x1", "y1"]}, {"q": ["x1", "y1"]}, regions_of)
    assert same.outcome == "tie" and same.overlap == pytest.approx(0.2)


def test_differences_within_the_tie_band_are_ties_and_region_figures_count_them():
    pts = [
        QueryPoint("q1", "", 0, "c", TIE_BAND / 2, 1.0, "tie", True),
        QueryPoint("q2", "", 0, "c", 0.3, 0.5, "A", True),
        QueryPoint("q3", "", 0, "c", -0.2, 0.5, "B", True),
        QueryPoint("q4", "", 1, "d", None, 0.0, "B", False),
    ]
    f0, f1 = region_figures(pts, [_region(0, ["c"]), _region(1, ["d"])])
    assert (f0.queries, f0.wins_a, f0.wins_b, f0.ties, f0.judged) == (3, 1, 1, 1, 3)
    assert f0.mean_diff == pytest.approx((TIE_BAND / 2 + 0.3 - 0.2) / 3)
    assert f0.ci_low is not None and f0.ci_low <= f0.mean_diff <= f0.ci_high
    assert (f1.queries, f1.wins_b, f1.judged, f1.mean_diff, f1.ci_low) == (1, 1, 0, None, None)


def test_bad_layout_input_is_refused_with_the_fix():
    with pytest.raises(MapError, match="use one of auto, umap, pca"):
        layout(np.ones((20, 4)), method="tsne")
    with pytest.raises(MapError, match="NaN"):
        layout(np.full((20, 4), np.nan))
    with pytest.raises(MapError, match="method='pca'"):
        layout(np.eye(5), method="umap")
    small = layout(np.eye(5, 8), method="auto")
    assert small.xy.shape == (5, 2) and small.method.startswith("pca")


# -- the sample corpus with real models -------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    return load_judged_folder(SAMPLE)


@pytest.fixture(scope="module")
def indexes(sample, shared_store_dir):
    store = EmbeddingStore(shared_store_dir)
    return {
        name: build_model_index(sample.corpus, load_embedder(resolve_model(name), device="cpu"), store=store)
        for name in (A_NAME, B_NAME)
    }


@pytest.fixture(scope="module")
def embedded(sample, indexes):
    """Each model's query vectors, embedded once: both runs below search with them."""
    texts = list(sample.queries.values())
    return {name: dict(zip(texts, mi.embed_queries(texts), strict=True)) for name, mi in indexes.items()}


def _run(mi, queries, vecs, doc_id):
    return run_retrieval(
        mi, queries, k=100, doc_id=doc_id, embed=lambda texts: np.stack([vecs[t] for t in texts])
    )


@pytest.fixture(scope="module")
def chunk_runs(sample, indexes, embedded):
    return {name: _run(mi, sample.queries, embedded[name], "id") for name, mi in indexes.items()}


@pytest.fixture(scope="module")
def cmap(sample, indexes, chunk_runs, shared_store_dir):
    a, b = indexes[A_NAME], indexes[B_NAME]
    return build_map(
        sample.corpus, a.vectors, b.vectors, model_a=a.name, model_b=b.name,
        runs_a=chunk_runs[A_NAME], runs_b=chunk_runs[B_NAME], qrels=sample.qrels, queries=sample.queries,
        seed=0, store=EmbeddingStore(shared_store_dir),
    )  # fmt: skip


def test_the_umap_layout_is_identical_for_a_seed_and_differs_for_another(cmap, indexes):
    # cmap.layout_a was computed by an earlier fit (this run's, or a previous run's kept in the store)
    v = indexes[A_NAME].vectors
    again, other = layout(v, seed=0), layout(v, seed=1)
    assert again.xy.shape == (len(v), 2) and again.xy.dtype == np.float32
    assert "umap" in again.method and "460 chunks" in again.method and cmap.layout_a.method == again.method
    assert np.array_equal(cmap.layout_a.xy, again.xy)
    assert not np.allclose(again.xy, other.xy)


def test_every_chunk_sits_in_one_region(cmap, sample):
    ids = [c for r in cmap.regions for c in r.chunk_ids]
    assert sorted(ids) == sorted(c.id for c in sample.corpus.chunks)
    assert 2 <= len(cmap.regions) <= 10
    assert [r.id for r in cmap.regions] == list(range(len(cmap.regions)))
    assert all(r.centroid_b is not None for r in cmap.regions)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def test_region_labels_are_real_terms_of_their_chunks_and_a_chinese_region_gets_chinese_bigrams(cmap, sample):
    by_id = {c.id: c for c in sample.corpus.chunks}
    chinese_labels = []
    for r in cmap.regions:
        text = _folded(" ".join(by_id[c].embed_text for c in r.chunk_ids))
        assert 1 <= len(r.terms) <= 5 and r.label == " · ".join(r.terms[:4])
        for term in r.terms:
            assert term in text, f"region {r.id} label term {term!r} is not in its chunks"
        if sum(n for lang, n in r.languages.items() if lang.startswith("zh")) >= 0.5 * r.size:
            chinese_labels.append(r.label)
            assert any("\u4e00" <= ch <= "\u9fff" for t in r.terms for ch in t), r.label
    assert chinese_labels, f"no mostly-Chinese region: {[r.languages for r in cmap.regions]}"


def test_per_region_figures_equal_a_hand_count_from_per_query_ndcg(cmap, sample, indexes, embedded):
    # per-query nDCG@10 as the Evaluate page computes it: file-level runs against the sample's file-level qrels
    ndcg = {}
    for name, mi in indexes.items():
        run = _run(mi, sample.queries, embedded[name], "source")
        ndcg[name] = {q: m["ndcg@10"] for q, m in evaluate_per_query(run, sample.qrels, ["ndcg@10"]).items()}
    diffs = {q: ndcg[A_NAME][q] - ndcg[B_NAME][q] for q in sample.queries}
    assert len(cmap.points) == len(sample.queries)
    for p in cmap.points:
        assert p.judged and p.diff == pytest.approx(diffs[p.query_id], abs=1e-9)
    assert any(abs(d) > TIE_BAND for d in diffs.values())
    for f in cmap.figures:
        mine = [diffs[p.query_id] for p in cmap.points if p.region == f.region]
        assert f.queries == f.judged == len(mine)
        assert f.wins_a == sum(d > TIE_BAND for d in mine)
        assert f.wins_b == sum(d < -TIE_BAND for d in mine)
        assert f.ties == sum(abs(d) <= TIE_BAND for d in mine)
        if mine:
            assert f.mean_diff == pytest.approx(sum(mine) / len(mine))
    assert sum(f.queries for f in cmap.figures) == len(sample.queries)


def _moved_one(v: np.ndarray) -> tuple[np.ndarray, int]:
    """B = A with one chunk's vector swapped for the chunk least like it (plus a little noise)."""
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    i = 17
    far = int(np.argmin(unit @ unit[i]))
    b = v.copy()
    b[i] = v[far] + 0.01 * np.random.default_rng(0).standard_normal(v.shape[1]).astype(np.float32)
    return b, i


def test_moved_most_ranks_the_chunk_whose_neighbours_were_changed_first(indexes, sample, monkeypatch):
    v = indexes[A_NAME].vectors
    ids = [c.id for c in sample.corpus.chunks]
    b, i = _moved_one(v)
    exact = moved_most(v, b, ids, k=10, top=5)
    assert exact[0][0] == ids[i] and exact[0][1] < 0.1 and exact[1][1] > 0.5
    assert all(j == 1.0 for _, j in moved_most(v, v, ids, top=20))
    monkeypatch.setattr(moved_module, "EXACT_MAX", 10)  # the hnswlib path, on the same vectors
    assert moved_most(v, b, ids, k=10, top=1)[0][0] == ids[i]


def test_the_map_round_trips_through_json(cmap):
    back = CorpusMap.from_json(cmap.to_json())
    assert back.regions == cmap.regions and back.points == cmap.points and back.figures == cmap.figures
    assert np.allclose(back.layout_b.xy, cmap.layout_b.xy, atol=1e-5)
    with pytest.raises(MapError, match="core.cli map"):
        CorpusMap.from_json("{}")


@pytest.mark.slow  # loads both models again and embeds the 58 queries (~10-20 s on 2 cores)
def test_the_cli_prints_the_region_table_and_writes_json(cmap, shared_store_dir, tmp_path, capsys):
    out = tmp_path / "map.json"
    args = ["--corpus", str(SAMPLE), "--model", A_NAME, "--model", B_NAME, "--out", str(out)]
    assert map_main([*args, "--store", str(shared_store_dir), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "A wins" in printed and "mean diff [95% CI]" in printed
    for r in cmap.regions:
        assert r.label[:20] in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) >= {"layout_a", "layout_b", "regions", "figures", "points", "moved"}
    back = CorpusMap.from_json(data)
    assert back.figures == cmap.figures and len(back.layout_a.xy) == 460


def test_the_cli_refuses_one_model_with_the_fix(capsys):
    assert map_main(["--corpus", str(SAMPLE), "--model", A_NAME]) == 2
    assert "give --model exactly twice" in capsys.readouterr().err
