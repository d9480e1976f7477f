"""The frontier sweep: recall per configuration, Pareto front, equal budget, cost at scale, cancellation, CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from core.cli import main
from core.dims import swept_dims
from core.errors import SearchError
from core.evaluation.metrics import ndcg
from core.frontier import FORMULAS, ScaleInputs, cost_at_scale, hnsw_graph_bytes, qdrant_tier, recall_caveat
from core.frontier.measure import (
    Judged,
    Measurement,
    Sweep,
    SweepCancelled,
    equal_budget,
    pareto_front,
    sweep,
    to_json,
)
from core.frontier.quantize import PRECISIONS, build_flat
from core.models import Throughput
from core.search import IndexParams
from core.search.index import exact_search, truncate
from core.search.matryoshka import recall_at_k
from tests.test_pages import _store, app, built_state, seeded, texts  # noqa: F401 (fixtures)

MODEL = "all-MiniLM-L6-v2"


def _clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, d)).astype(np.float32)
    x = centres[rng.integers(0, 20, n)] + 0.7 * rng.standard_normal((n, d)).astype(np.float32)
    x *= (1.0 / np.sqrt(1.0 + np.arange(d) / 8.0)).astype(np.float32)  # leading dims carry more signal
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def small():
    docs = _clustered(400, 64, 1)
    queries = _clustered(30, 64, 1)[:30] + 0.0
    return docs, truncate(queries + 0.05 * _clustered(30, 64, 2), 64)


@pytest.fixture(scope="module")
def swept(small):
    docs, queries = small
    return sweep(docs, queries, model="toy", dims=[16, 32, 64], k=10, latency_queries=5)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def test_every_configuration_is_measured_and_full_float32_is_exact(swept):
    combos = {(r.dims, r.precision, r.index) for r in swept.rows}
    assert combos == {(d, p, "exact") for d in (16, 32, 64) for p in PRECISIONS} | {
        (d, p, "hnsw") for d in (16, 32, 64) for p in ("float32", "float16")
    }
    default = swept.default()
    assert default is not None and default.recall == 1.0 and default.bytes_per_vector == 256
    for r in swept.rows:
        assert 0.0 <= r.recall <= 1.0 and r.p95_ms >= r.p50_ms > 0
        assert (r.build_seconds is not None) == (r.index == "hnsw")
    hnsw = next(r for r in swept.rows if r.index == "hnsw" and r.dims == 64 and r.precision == "float32")
    assert hnsw.index_bytes > 400 * 64 * 4 and hnsw.recall > 0.9  # measured: vectors + graph
    half = next(r for r in swept.rows if r.index == "hnsw" and r.dims == 64 and r.precision == "float16")
    # hnswlib stores float32: the float16 graph is measured, then counted with 2 bytes less per dimension
    assert half.bytes_per_vector == 128 and half.index_bytes == hnsw.index_bytes - 2 * 64 * 400
    assert half.recall > 0.9 and half.build_seconds is not None


@pytest.mark.parametrize("pseudo", [False, True])
def test_batched_sweep_lists_equal_a_plain_search_of_every_configuration(pseudo):
    """The one-pass lists (prefix sums, float16/int8 candidates within their error bound) = FlatIndex.search."""
    docs = _clustered(1500, 96, 3)
    exclude = np.arange(0, 1500, 50) if pseudo else None
    queries = docs[exclude] if pseudo else _clustered(30, 96, 4)
    s = sweep(
        docs, queries, model="toy", dims=[24, 48, 96], k=10, hnsw=False, exclude=exclude, latency_queries=1
    )
    truth = exact_search(docs, truncate(queries, 96), 10, exclude=exclude)[0]
    for r in s.rows:
        plain = build_flat(truncate(docs, r.dims), r.precision).search(
            truncate(queries, r.dims), 10, exclude=exclude
        )
        assert r.recall == pytest.approx(recall_at_k(truth, plain, k=10), abs=1e-9), r.label
        if pseudo:
            assert not np.any(plain == exclude[:, None])


def test_recall_at_d_equals_an_independent_numpy_computation(small, swept):
    docs, queries = small
    truth = _top(queries @ docs.T, 10)
    for d in (16, 32):
        dd, qd = docs[:, :d], queries[:, :d]
        dd = dd / np.linalg.norm(dd, axis=1, keepdims=True)
        got = {(r.precision): r.recall for r in swept.rows if r.dims == d and r.index == "exact"}
        assert got["float32"] == pytest.approx(recall_at_k(truth, _top(qd @ dd.T, 10), k=10), abs=1e-9)
        ham = ((qd > 0)[:, None, :] != (dd > 0)[None, :, :]).sum(axis=2)
        assert got["binary"] == pytest.approx(
            recall_at_k(truth, _top(-ham.astype(float), 10), k=10), abs=1e-9
        )
        assert got["binary+rescore"] >= got["binary"]


def test_pareto_front_and_equal_budget(swept):
    front = pareto_front(swept.rows)
    assert front and all(r.pareto for r in front)
    sizes = [r.bytes_per_element for r in front]
    assert sizes == sorted(sizes) and [r.recall for r in front] == sorted(r.recall for r in front)
    for r in swept.rows:  # nothing off the front beats a front point of no larger size
        assert not any(
            f.bytes_per_element <= r.bytes_per_element and f.recall < r.recall for f in front if f is r
        )
    other = Sweep(model="small", k=10, queries=30, full_dim=8, mrl_trained=False, rows=(_row("small", 8),))
    readout = equal_budget(swept, other)
    assert readout.budget_bytes == 32 and readout.best is not None
    assert readout.best.bytes_per_element <= 32
    assert readout.best.recall == max(r.recall for r in swept.rows if r.bytes_per_element <= 32)
    assert "toy at" in readout.sentence and "small at 8 float32 costs 32 bytes" in readout.sentence


def test_equal_budget_on_ndcg_names_the_metric_and_both_scores():
    mine = Sweep(model="big", k=10, queries=12, full_dim=16, mrl_trained=True, rows=(
        _row("big", 16, ndcg10=0.61), _row("big", 8, ndcg10=0.58), _row("big", 4, ndcg10=0.40, recall=0.5),
    ))  # fmt: skip
    other = Sweep(
        model="small", k=10, queries=12, full_dim=8, mrl_trained=False, rows=(_row("small", 8, ndcg10=0.52),)
    )
    readout = equal_budget(mine, other, metric="ndcg@10")
    assert readout.best is not None and readout.best.dims == 8  # 32 bytes: the 16-dim row costs 64
    text = readout.sentence
    assert "scores nDCG@10 0.580 (its full-dimension float32: 0.610)" in text
    assert "small at 8 float32 costs 32 bytes per vector and scores nDCG@10 0.520" in text
    assert "keeps" not in text  # not the recall wording
    assert "keeps 1.00 of its full-dimension top-k" in equal_budget(mine, other).sentence


def _row(model: str, dims: int, **kw) -> Measurement:
    base = dict(
        model=model, dims=dims, precision="float32", index="exact", bytes_per_vector=4 * dims,
        index_bytes=4 * dims * 100, count=100, recall=1.0, ndcg10=None, p50_ms=1.0, p95_ms=2.0, build_seconds=None,
    )  # fmt: skip
    return Measurement(**{**base, **kw})


GPU = Throughput("m", 100.0, None, "declared", "gpu", "RTX 3060", source="the article")


def test_cost_at_scale_follows_the_stated_formulas():
    row = _row("m", 256, precision="int8", bytes_per_vector=256, index_bytes=25_600)
    scale = ScaleInputs(chunks=1_000_000, qps=10, replicas=3, usd_per_gb_month=5.0)
    c = cost_at_scale(row, full_dim=1024, throughput=GPU, scale=scale, text_bytes=500)
    assert c["ram_gb"] == pytest.approx(1e6 * (256 + 8) * 3 / 1e9)  # vectors + ids, every replica
    assert c["disk_gb"] == pytest.approx(1e6 * (256 + 4 * 1024 + 500 + 8) * 3 / 1e9)  # + originals, text
    assert c["qdrant_rule_gb"] == pytest.approx(1e6 * 256 * 4 * 1.5 * 3 / 1e9)
    assert c["embed_hours"] == pytest.approx(1e6 / 100 / 3600)
    assert c["billed_hours"] == c["embed_hours"] and c["embed_usd"] == pytest.approx(c["embed_hours"] * 2.0)
    assert c["search_ms_at_scale"] == pytest.approx(1.0 * 1e6 / 100)
    assert c["cpu_cores"] == pytest.approx(10 * c["search_ms_at_scale"] / 1000)
    assert c["monthly_usd"] == pytest.approx(c["ram_gb"] * 5.0 + c["disk_gb"] * 0.10 + c["cpu_cores"] * 30.0)
    assert any("CPU cores x $/core-month" in f for f in FORMULAS)
    assert any("RAM (GB)" in f for f in FORMULAS)


def test_cancel_between_configurations_keeps_what_was_measured(small):
    docs, queries = small
    stop = threading.Event()
    with pytest.raises(SweepCancelled) as caught:
        sweep(
            docs,
            queries,
            model="toy",
            dims=[16, 64],
            latency_queries=2,
            progress=lambda *_: stop.set(),
            cancel=stop,
        )
    assert len(caught.value.partial) == 1


def test_ndcg_when_judged_and_pseudo_queries_exclude_themselves(small):
    docs, _ = small
    rows = np.arange(0, 400, 40)
    doc_ids = [f"d{i // 4}" for i in range(400)]  # four chunks per document
    qrels = [{doc_ids[r + 1]: 2, doc_ids[r + 5]: 1} for r in rows]
    s = sweep(
        docs, docs[rows], model="toy", dims=[64], exclude=rows, judged=Judged(doc_ids, qrels), hnsw=False
    )
    full = s.default()
    assert full is not None and full.recall == 1.0
    ranking = np.argsort(-(docs[rows] @ docs.T), axis=1, kind="stable")
    expected = []
    for q, (r, order) in enumerate(zip(rows, ranking, strict=True)):
        ids = list(dict.fromkeys(doc_ids[i] for i in order if i != r))
        expected.append(ndcg(ids, qrels[q], 10))
    assert full.ndcg10 == pytest.approx(float(np.mean(expected)))


def test_sweep_dims_and_errors():
    assert swept_dims(384) == [32, 64, 128, 256, 384]  # every model on the dimension axis (issue 27)
    assert swept_dims(2560, (32, 64, 128, 2560)) == [32, 64, 128, 2560]
    with pytest.raises(SearchError, match="dims"):
        sweep(np.eye(4, dtype=np.float32), np.eye(4, dtype=np.float32), model="x", dims=[8])


def test_cli_frontier_prints_a_table_and_writes_the_issue_json(tmp_path, store_dir, capsys):
    root = tmp_path / "kb"
    root.mkdir()
    for i, text in enumerate(
        ["JWT tokens are signed with a secret key.", "Proof of stake lets validators agree on blocks.",
         "Knead the dough, then let it rise.", "Rotate the signing key every 90 days.",
         "The consensus layer orders transactions.", "Bake at 220 degrees for thirty minutes."]
    ):  # fmt: skip
        (root / f"doc{i}.md").write_text(text + "\n", encoding="utf-8")
    queries = tmp_path / "queries.txt"
    queries.write_text("how are tokens signed\nwhat is proof of stake\n", encoding="utf-8")
    out = tmp_path / "frontier.json"
    args = ["frontier", "--corpus", str(root), "--model", MODEL, "-k", "3", "--queries", str(queries)]
    assert main([*args, "--device", "cpu", "--json", str(out), "--latency-queries", "2"]) == 0
    printed = capsys.readouterr().out
    assert "recall@3" in printed and "binary+rescore" in printed and "not trained for truncation" in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["k"] == 3 and data["queries"] == 2 and list(data["models"]) == [MODEL]
    rows = data["models"][MODEL]
    assert {r["precision"] for r in rows} == set(PRECISIONS) and {r["index"] for r in rows} == {
        "exact",
        "hnsw",
    }
    assert {"dims", "bytes_per_vector", "recall@k", "ndcg@10", "p50_ms", "p95_ms"} <= set(rows[0])
    full = next(r for r in rows if r["precision"] == "float32" and r["index"] == "exact" and r["dims"] == 384)
    assert full["bytes_per_vector"] == 1536 and full["recall@k"] == 1.0 and full["reduction"] == "prefix"
    assert {(r["reduction"], r["reduction_label"]) for r in rows if r["dims"] < 384} == {
        ("prefix", "post-hoc truncation"),
        ("pca", "PCA rotation"),
    }
    assert to_json([])["models"] == {}
    assert "float16 hnsw" in data["methods"] and "rounded through float16" in data["methods"]["float16 hnsw"]
    assert "dequantised" in data["methods"]["int8 exact"] and any(
        "not trained for truncation" in n for n in data["notes"][MODEL]
    )


def test_cli_frontier_takes_queries_and_judgments_from_the_judgment_store(tmp_path, store_dir, capsys):
    from core.cli.common import load_any_corpus
    from core.judging.store import JudgmentStore

    root = tmp_path / "kb"
    root.mkdir()
    for i, text in enumerate(
        ["JWT tokens are signed with a secret key.", "Proof of stake lets validators agree on blocks.",
         "Knead the dough, then let it rise.", "Bake at 220 degrees for thirty minutes."]
    ):  # fmt: skip
        (root / f"doc{i}.md").write_text(text + "\n", encoding="utf-8")
    args = ["frontier", "--corpus", str(root), "--model", MODEL, "-k", "2", "--no-hnsw", "--device", "cpu"]
    assert main([*args, "--from-store"]) == 2  # an empty store: a clear error, not a sweep without nDCG
    assert "holds no judgments" in capsys.readouterr().err
    corpus = load_any_corpus(str(root))
    store = JudgmentStore.for_corpus(corpus.sha256)
    signed = next(c.id for c in corpus.chunks if "JWT" in c.text)
    store.record(query="how are tokens signed", chunk_id=signed, label=2, rater="ann", origin="pooled")
    out = tmp_path / "f.json"
    assert main([*args, "--from-store", "--json", str(out), "--latency-queries", "1"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["queries"] == 1
    rows = data["models"][MODEL]
    assert all(r["ndcg@10"] is not None for r in rows)
    assert (
        next(r for r in rows if r["precision"] == "float32")["ndcg@10"] == 1.0
    )  # the judged chunk ranks first


# ---- the page, through AppTest (the same seeded sessions as tests/test_pages.py) -------------------------


def test_frontier_page_with_nothing_loaded_says_what_to_do():
    at = app("pages/6_Frontier.py")
    at.run()
    assert not at.exception, at.exception
    assert "corpus" in texts(at).lower()


@pytest.mark.slow
def test_frontier_page_runs_the_sweep_for_both_built_models(built_state):  # noqa: F811
    at = seeded("pages/6_Frontier.py", built_state)
    at.radio(key="fr_queryset").set_value("chunks as pseudo-queries").run()
    at.number_input(key="fr_pseudo").set_value(20).run()
    at.toggle(key="fr_hnsw").set_value(False).run()
    at.button(key="fr_run").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "bytes per vector" in shown and "keeps" in shown  # the equal-budget readout, both ways
    assert "not trained for truncation" in shown
    assert "RAM (GB) = chunks" in shown  # the formulas under the cost table
    at.run()  # a rerun shows the memoised sweep without clicking again
    assert not at.exception and "Run the sweep" not in [b.label for b in at.button]


def test_one_pass_truncation_equals_truncate_ranges_and_bits():
    """core.frontier.exact.truncated (cache-sized row blocks, norms given) and prefix_bits = the plain functions."""
    from core.frontier.exact import prefix_bits, truncated
    from core.frontier.quantize import int8_ranges, pack_binary

    docs = _clustered(5000, 160, 5)  # 800k floats: several row blocks
    docs[3] = 0.0  # a zero row stays zero (the 1e-12 floor)
    full_bits = pack_binary(docs)
    for d in (5, 20, 64, 100, 160):
        inv = (1 / np.maximum(np.linalg.norm(docs[:, :d].astype(np.float64), axis=1), 1e-12)).astype(np.float32)
        vd, ranges = truncated(docs, d, inv, ranges=True)
        np.testing.assert_allclose(vd, truncate(docs, d), rtol=1e-6, atol=1e-7)
        assert np.array_equal(ranges, int8_ranges(vd))
        assert np.array_equal(prefix_bits(full_bits, d), pack_binary(truncate(docs, d)))
    unit = truncate(docs, 160)
    same, _ = truncated(unit, 160, np.ones(5000, dtype=np.float32), ranges=False)
    assert same is unit  # unit vectors at their full dimension: no copy
    assert truncated(docs, 8, inv, ranges=False)[1] is None


def test_the_hnsw_graph_is_costed_from_m_beside_the_measured_index(small):
    """RAM counts the graph: the formula from M sits beside hnswlib's measured bytes per element, within 10%."""
    docs, queries = small
    s = sweep(docs, queries, model="toy", dims=[docs.shape[1]], k=5, hnsw=True, params=IndexParams(M=16))
    row = next(r for r in s.rows if r.index == "hnsw" and r.precision == "float32")
    c = cost_at_scale(row, full_dim=docs.shape[1], throughput=GPU, scale=ScaleInputs(chunks=1000, replicas=1))
    assert c["graph_bytes_formula"] == pytest.approx(hnsw_graph_bytes(16))
    assert c["graph_bytes_measured"] == pytest.approx(c["graph_bytes_formula"], rel=0.10)
    assert c["ram_gb"] == pytest.approx(1000 * (row.bytes_per_vector + c["graph_bytes_measured"] + 8) / 1e9)
    twice = ScaleInputs(chunks=1000, replicas=2)
    two = cost_at_scale(row, full_dim=docs.shape[1], throughput=GPU, scale=twice)
    assert two["ram_gb"] == pytest.approx(2 * c["ram_gb"])
    assert two["disk_gb"] == pytest.approx(2 * c["disk_gb"])
    tier = qdrant_tier(s, throughput=GPU, scale=ScaleInputs(chunks=1000))
    assert tier is not None and "Qdrant tier" in tier.label and tier.quality_row.precision == "int8"
    assert tier.cost["ram_gb"] < c["ram_gb"]  # int8 codes in RAM, float32 on disk
    assert tier.cost["disk_gb"] > 1000 * 4 * docs.shape[1] / 1e9
    caveat = recall_caveat([s], ScaleInputs(chunks=10_000_000))
    assert f"measured on {len(docs):,} chunks" in caveat and "10,000,000" in caveat
