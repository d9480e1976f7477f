"""One throughput, said where it comes from: a real build records it, a timed sample stands in, declared figures
carry their source, and every reader (estimate, cost at scale, report) prints the same figure and price."""

from __future__ import annotations

import math

import pytest

from core.build import build, running_eta
from core.errors import DashboardError
from core.frontier import ScaleInputs, embedding
from core.ingest import load_corpus
from core.models import (
    current_throughput,
    declared_throughput,
    estimate_build,
    load_embedder,
    recorded,
    resolve_model,
)
from core.models.throughput import SAMPLE_CHUNKS, Throughput, record
from core.store import EmbeddingStore

MINI = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus("sample_corpus/docs/blockchain")  # 40 chunks


@pytest.fixture(scope="module")
def mini():
    return load_embedder(resolve_model(MINI), device="cpu")


def test_a_real_build_records_its_throughput_and_later_readers_get_exactly_it(tmp_path, corpus):
    store = EmbeddingStore(tmp_path)
    assert recorded(store, MINI, "cpu") is None
    mi = build(corpus, MINI, store=store, device="cpu")
    assert mi.stats is not None and mi.stats.embedded >= 32, "the folder must be big enough to record"
    tp = recorded(store, MINI, "cpu")
    assert tp is not None and tp.origin == "build"
    assert tp.chunks == mi.stats.embedded
    assert tp.docs_per_s == pytest.approx(mi.stats.items_per_second)
    assert tp.tokens_per_s and tp.tokens_per_s > tp.docs_per_s  # chunks are many tokens each
    text = tp.describe()
    assert text.startswith("measured on this CPU") and f"while building {mi.stats.embedded:,} chunks" in text
    assert "just now" in text and ("(load " in text or tp.load is None)
    # a cached rebuild embeds nothing: the record stays; every reader gets the very same value
    again = build(corpus, MINI, store=store, device="cpu")
    assert again.stats is not None and again.stats.embedded == 0
    assert current_throughput(again.embedder, store, [c.text for c in corpus.chunks]) == tp


def test_without_a_build_a_timed_sample_of_at_least_32_chunks_is_taken_once(tmp_path, mini):
    store = EmbeddingStore(tmp_path)
    few = ["Lumen stores embeddings on disk.", "Cancel a build at any time."]  # fewer texts than the sample
    tp = current_throughput(mini, store, few)
    assert tp.origin == "sample" and tp.chunks >= SAMPLE_CHUNKS and tp.docs_per_s > 0
    assert f"on a timed sample of {tp.chunks} chunks" in tp.describe()
    assert current_throughput(mini, store, few) == tp  # recorded: not timed again, the same figure everywhere


def test_a_sample_never_replaces_a_build_record(tmp_path):
    store = EmbeddingStore(tmp_path)
    built = Throughput(MINI, 120.0, 9000.0, "build", "cpu", "this CPU (2 cores)", 460, 1.0, 0.5, cores=2)
    record(store, built)
    record(
        store, Throughput(MINI, 40.0, 3000.0, "sample", "cpu", "this CPU (2 cores)", 32, 2.0, 3.0, cores=2)
    )
    assert recorded(store, MINI, "cpu") == built
    assert recorded(store, MINI, "cuda") is None  # per device kind


def test_declared_figures_name_their_source_and_bill_gpu_hours():
    bge = declared_throughput("bge-base-en-v1.5")
    assert bge.docs_per_s == 1500 and bge.describe().startswith("declared: RTX 3060 (the article")
    qwen = declared_throughput("Qwen3-Embedding-4B")
    assert qwen.docs_per_s == 800 and "GGUF Q4" in qwen.hardware
    cost = embedding(qwen, ScaleInputs(chunks=10_000_000))
    assert cost.unit == "GPU-hours" and cost.billed_hours == pytest.approx(1e7 / 800 / 3600)
    assert "GPU-hours" in cost.sentence() and "declared: RTX 3060" in cost.sentence()
    own = declared_throughput("bge-base-en-v1.5", docs_per_s=4000, hardware="1 x L4, TEI")
    assert own.describe() == "declared: 1 x L4, TEI (your figure)"
    with pytest.raises(DashboardError, match="enter the docs/s your target hardware reaches"):
        declared_throughput(MINI)


def test_a_cpu_throughput_is_billed_in_cpu_hours_never_gpu_hours():
    cpu = Throughput(MINI, 100.0, 6000.0, "build", "cpu", "this CPU (2 cores)", 460, 0.0, 1.2, cores=2)
    cost = embedding(cpu, ScaleInputs(chunks=3_600_000, usd_per_cpu_core_month=73.0))
    assert cost.hours == pytest.approx(10.0) and cost.billed_hours == pytest.approx(20.0)
    assert cost.usd == pytest.approx(20.0 * 0.1)
    sentence = cost.sentence()
    assert "CPU-hours" in sentence and "GPU" not in sentence and "on 2 cores" in sentence


def test_the_estimate_uses_the_recorded_throughput_and_says_so():
    spec = resolve_model(MINI)
    tp = Throughput(MINI, 50.0, 5000.0, "build", "cpu", "this CPU (2 cores)", 460, 0.0, 0.7, cores=2)
    est = estimate_build(spec, n_tokens=50_000, n_chunks=500, device="cpu", throughput=tp)
    assert est.seconds == pytest.approx(10.0)
    assert "measured on this CPU (2 cores) while building 460 chunks" in est.basis
    # another model's figure, or a declared one, is not this model's speed here
    other = estimate_build(
        resolve_model("multilingual-e5-small"), n_tokens=50_000, n_chunks=500, throughput=tp
    )
    assert "measured on" not in other.basis


def test_the_running_eta_starts_at_the_estimate_and_converges_to_the_measured_rate():
    est_rate, real_rate = 10.0, 5.0  # the build runs at half the estimated speed
    first = running_eta(remaining=1000, measured_chunks=0, measured_rate=0.0, estimated_rate=est_rate)
    assert first == pytest.approx(100.0)
    mid = running_eta(remaining=500, measured_chunks=500, measured_rate=real_rate, estimated_rate=est_rate)
    assert abs(mid - 500 / real_rate) / (500 / real_rate) < 0.05  # within 5% of the truth halfway through
    assert math.isnan(running_eta(remaining=10, measured_chunks=0, measured_rate=0.0, estimated_rate=None))
