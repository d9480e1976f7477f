"""Every model on the dimension axis (issue 27): PCA rotation beside post-hoc truncation, stored and reused, in the
CLI's frontier rows, and the binary-collapse warning. Real all-MiniLM-L6-v2 vectors of the sample corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import core.search.rotation as rotation_mod
from core.cli import main
from core.frontier import BINARY_KEEP_MIN, Measurement, Sweep, binary_collapse, binary_collapse_warning
from core.ingest import load_corpus
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search import build_model_index, reduction_curve
from core.search.rotation import fit_rotation, rotation_blob
from core.store import EmbeddingStore
from core.types import SearchParams

MODEL = "all-MiniLM-L6-v2"
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "sample_corpus" / "docs"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    return tmp_path_factory.mktemp("dims_axis_store")


@pytest.fixture(scope="module")
def minilm():
    return load_embedder(resolve_model(MODEL), device="cpu")


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(str(DOCS))


@pytest.fixture(scope="module")
def mi(corpus, minilm, store_root):
    return build_model_index(corpus, minilm, store=EmbeddingStore(store_root))


@pytest.fixture(scope="module")
def typed(mi):
    lines = (ROOT / "sample_corpus" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return mi.embed_queries([json.loads(line)["text"] for line in lines if line.strip()])


def test_the_rotation_is_orthogonal_and_sorted_by_variance(mi):
    rot = mi.rotation
    assert rot.shape == (384, 384) and rot.dtype == np.float32
    assert np.allclose(rot.T @ rot, np.eye(384), atol=1e-4)
    centred = mi.vectors - mi.vectors.mean(axis=0)
    var = ((centred @ rot) ** 2).mean(axis=0)
    assert np.all(np.diff(var) <= 1e-6)  # largest variance first
    again = fit_rotation(mi.vectors)
    assert np.array_equal(again, rot)  # deterministic, signs included


def test_pca_at_full_dimension_scores_exactly_like_the_original_vectors(mi, typed):
    for exact in (True, False):
        plain = mi.search_vectors(typed, SearchParams(k=10, exact=exact))
        pca = mi.search_vectors(typed, SearchParams(k=10, exact=exact, reduction="pca"))
        assert np.array_equal(plain[0], pca[0])
        assert np.max(np.abs(plain[1] - pca[1])) < 1e-5
    q = typed[0]
    idx, scores = mi.search_vectors(q, SearchParams(k=5, exact=True))
    z_plain = mi.z_scores(q, scores[0])
    z_pca = mi.z_scores(q, scores[0], reduction="pca")
    assert np.allclose(z_plain, z_pca, atol=1e-4)


def test_pca_keeps_more_of_the_full_dimension_top_10_than_post_hoc_truncation(mi, typed):
    post = reduction_curve(mi, typed, reduction="prefix", dims=[64, 128, 256, 384], k=10)
    pca = reduction_curve(mi, typed, reduction="pca", dims=[64, 128, 256, 384], k=10)
    # measured on the 58 sample queries: post-hoc 0.54 / 0.68 / 0.82, PCA 0.81 / 0.92 / 0.98
    for d in (64, 128, 256):
        assert pca.recall[d] > post.recall[d] + 0.1, (d, post.recall, pca.recall)
    assert post.recall[384] == 1.0 and pca.recall[384] >= 0.99


def test_a_pca_index_is_searched_at_d_and_cached_under_its_own_name(mi, typed, store_root):
    idx, _ = mi.search_vectors(typed, SearchParams(k=10, dims=128, reduction="pca"))
    truth, _ = mi.search_vectors(typed, SearchParams(k=10, exact=True))
    post, _ = mi.search_vectors(typed, SearchParams(k=10, dims=128))
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx.tolist(), truth.tolist(), strict=True)])
    post_overlap = np.mean(
        [len(set(a) & set(b)) / 10 for a, b in zip(post.tolist(), truth.tolist(), strict=True)]
    )
    assert overlap > post_overlap
    names = [p.name for p in (Path(store_root) / "blobs" / "indexes").glob("*.hnsw")]
    assert any("-d128-pca-" in n for n in names) and any("-d128-prefix-" in n for n in names)


def test_the_rotation_is_stored_beside_the_vectors_and_reused_on_the_next_open(
    mi, corpus, minilm, store_root, monkeypatch
):
    fitted = mi.rotation  # fitted (or loaded) once
    path = Path(store_root) / "blobs" / rotation_blob(mi.vectors_sha)
    assert path.is_file()

    def no_refit(_vectors):
        raise AssertionError("the stored rotation should have been loaded, not fitted again")

    monkeypatch.setattr(rotation_mod, "fit_rotation", no_refit)
    reopened = build_model_index(corpus, minilm, store=EmbeddingStore(store_root))
    assert np.array_equal(reopened.rotation, fitted) and reopened.rotation_fitted is False
    monkeypatch.undo()
    path.write_bytes(b"not a numpy file")  # a damaged copy is discarded and fitted again
    third = build_model_index(corpus, minilm, store=EmbeddingStore(store_root))
    assert np.array_equal(third.rotation, fitted) and third.rotation_fitted is True
    assert np.load(path).shape == (384, 384)


def test_cli_frontier_has_rows_below_full_dimension_each_labelled_with_its_reduction(
    tmp_path, store_root, capsys
):
    out = tmp_path / "f.json"
    args = [
        "frontier",
        "--corpus",
        str(DOCS),
        "--model",
        MODEL,
        "--store",
        str(store_root),
        "--device",
        "cpu",
    ]
    assert main([*args, "--pseudo", "60", "--latency-queries", "5", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "post-hoc truncation" in printed and "PCA rotation" in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = data["models"][MODEL]
    below = [r for r in rows if r["dims"] < 384]
    assert {r["dims"] for r in below} == {32, 64, 128, 256}
    assert {(r["reduction"], r["reduction_label"]) for r in below} == {
        ("prefix", "post-hoc truncation"),
        ("pca", "PCA rotation"),
    }
    assert all(r["reduction"] == "prefix" for r in rows if r["dims"] == 384)  # full dimension measured once
    f32 = {
        (r["reduction"], r["dims"]): r["recall@k"]
        for r in rows
        if r["precision"] == "float32" and r["index"] == "exact"
    }
    assert f32[("prefix", 384)] == 1.0
    assert f32[("pca", 64)] > f32[("prefix", 64)]  # the PCA rows are what the Frontier now offers
    assert "warnings" in data


def _row(dims: int, precision: str, recall: float, reduction: str = "prefix") -> Measurement:
    return Measurement(
        model="m", dims=dims, precision=precision, index="exact", bytes_per_vector=dims, index_bytes=dims * 10,
        count=10, recall=recall, ndcg10=None, p50_ms=0.1, p95_ms=0.2, build_seconds=None, reduction=reduction,
    )  # fmt: skip


def test_binary_collapse_is_said_in_words_where_binary_keeps_under_80_percent():
    rows = (
        _row(384, "float32", 1.0),
        _row(384, "binary+rescore", 0.95),  # 95%: holds up
        _row(64, "float32", 0.8),
        _row(64, "binary+rescore", 0.6),  # 75%: collapses
        _row(64, "float32", 0.9, "pca"),
        _row(64, "binary+rescore", 0.81, "pca"),  # 90%
    )
    s = Sweep(model="e5-like", k=10, queries=5, full_dim=384, mrl_trained=False, rows=rows)
    low = binary_collapse(s)
    assert [(b.dims, b.reduction, round(b.kept, 2)) for b in low] == [(64, "post-hoc truncation", 0.75)]
    warning = binary_collapse_warning(s)
    assert warning is not None and BINARY_KEEP_MIN == 0.8
    assert "less than 80%" in warning and "64 dims (post-hoc truncation: 75%)" in warning
    assert "e5-base-v2" in warning and "74.8%" in warning and "e5-like" in warning
    fine = Sweep(model="m", k=10, queries=5, full_dim=384, mrl_trained=False, rows=rows[:2])
    assert binary_collapse_warning(fine) is None
