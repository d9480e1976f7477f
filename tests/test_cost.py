"""Build-cost estimates: ordered by model size, proportional to tokens, honest about their basis."""

import dataclasses
import math

import pytest

from core.errors import DashboardError
from core.models.cost import Calibration, calibrate, estimate_build, machine_flops
from core.models.presets import PRESETS
from core.models.resolve import resolve_model
from ui.cost_text import describe, suggest

Q4, Q06, BGE, MINI = (
    PRESETS[n] for n in ("Qwen3-Embedding-4B", "Qwen3-Embedding-0.6B", "bge-base-en-v1.5", "all-MiniLM-L6-v2")
)


def test_bigger_models_are_slower_and_need_more_memory():
    kw = {"n_tokens": 800_000, "n_chunks": 2000, "device": "cpu"}
    q4, q06, bge = (estimate_build(s, **kw) for s in (Q4, Q06, BGE))
    assert q4.seconds > q06.seconds > bge.seconds > 0
    assert q4.memory_bytes > q06.memory_bytes > bge.memory_bytes
    assert q4.memory_bytes > Q4.params * 4  # float32 weights alone on a CPU
    assert q4.seconds / q06.seconds == pytest.approx(Q4.params / Q06.params, rel=1e-6)


def test_seconds_scale_with_tokens():
    one = estimate_build(Q06, n_tokens=100_000, n_chunks=250)
    three = estimate_build(Q06, n_tokens=300_000, n_chunks=750)
    assert three.seconds == pytest.approx(3 * one.seconds, rel=1e-6)
    assert estimate_build(Q06, n_tokens=0, n_chunks=0).seconds == 0


def test_describe_and_suggest_point_cpu_users_to_lighter_routes():
    est = estimate_build(Q4, n_tokens=800_000, n_chunks=2000, device="cpu")
    text = describe(est)
    assert text.startswith("Qwen3-Embedding-4B on this CPU: about ") and "2,000 chunks" in text
    advice = suggest(est)
    assert "Qwen3-Embedding-0.6B" in advice and "endpoint" in advice
    tiny = estimate_build(MINI, n_tokens=2_000, n_chunks=10, device="cpu")
    assert suggest(tiny) == ""


def test_calibration_of_the_same_model_is_used_directly():
    cal = Calibration(model=MINI.name, device="cpu", tokens=5000, seconds=2.0, params=MINI.params)
    est = estimate_build(MINI, n_tokens=50_000, n_chunks=100, calibration=cal)
    assert est.tokens_per_s == pytest.approx(2500) and est.seconds == pytest.approx(20.0)
    assert "measured" in est.basis
    # A calibration from another model transfers its efficiency, not its speed.
    other = estimate_build(Q06, n_tokens=50_000, n_chunks=100, calibration=cal)
    assert other.seconds > est.seconds and "calibrated on all-MiniLM-L6-v2" in other.basis


def test_calibrate_measures_a_real_model():
    from core.models.embedders import load_embedder

    embedder = load_embedder(MINI)
    cal = calibrate(embedder, ["A short passage about retrieval with embeddings on a laptop."] * 8)
    assert cal.model == MINI.name and cal.tokens >= 8 * 10 and cal.seconds > 0
    assert cal.tokens_per_s > 0 and machine_flops("cpu") > 1e8


def test_endpoint_and_unknown_size_are_reported_as_unknown():
    ep = resolve_model("endpoint:multilingual-e5-small-q4@http://127.0.0.1:8000/v1")
    est = estimate_build(ep, n_tokens=1000, n_chunks=10, device="cpu")
    assert math.isnan(est.seconds) and "endpoint" in est.basis
    assert "unknown time" in describe(est) and suggest(est) == ""
    unknown = estimate_build(dataclasses.replace(Q06, params=0), n_tokens=1000, n_chunks=10)
    assert math.isnan(unknown.seconds) and "parameter" in unknown.basis


def test_negative_sizes_are_rejected():
    with pytest.raises(DashboardError, match="n_tokens"):
        estimate_build(Q06, n_tokens=-1, n_chunks=1)


def test_a_corpus_already_stored_reads_nothing_to_embed():
    """All chunks in the store: no 'about 1 s for 0 chunks (0 tokens at ...)' sentence."""
    text = describe(estimate_build(MINI, n_tokens=0, n_chunks=0, device="cpu"))
    assert text == "all-MiniLM-L6-v2 on this CPU: nothing to embed, every chunk is stored"
