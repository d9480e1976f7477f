"""Resource limits: a model too large for the device or a corpus too large for RAM is refused before any work."""

from __future__ import annotations

import dataclasses

import pytest

from core.errors import DashboardError
from core.models.limits import (
    GIB,
    CorpusTooLargeError,
    ModelTooLargeError,
    available_ram,
    check_build_fits,
)
from core.models.presets import PRESETS

Q8, Q4, MINI = (PRESETS[n] for n in ("Qwen3-Embedding-8B", "Qwen3-Embedding-4B", "all-MiniLM-L6-v2"))


def test_model_too_large_for_the_gpu_is_refused_with_the_estimate():
    with pytest.raises(ModelTooLargeError) as info:
        check_build_fits(Q8, 1000, "cuda", ram=64 * GIB, device_memory=8 * GIB)
    err = info.value
    assert isinstance(err, DashboardError)  # pages show it with st.error like every other project error
    assert err.needed > 8 * GIB and err.available == 8 * GIB
    msg = str(err)
    assert "Qwen3-Embedding-8B" in msg and "8.0 GiB is free" in msg
    assert f"{err.needed / GIB:,.1f} GiB" in msg  # the estimate itself
    assert "endpoint" in msg and "Qwen3-Embedding-0.6B" in msg  # and the fixes


def test_model_too_large_for_cpu_ram_is_refused():
    with pytest.raises(
        ModelTooLargeError, match=r"Qwen3-Embedding-4B needs about .* GiB on this machine \(cpu\)"
    ):
        check_build_fits(Q4, 100, "cpu", ram=12 * GIB)


def test_corpus_too_large_for_ram_is_refused_with_the_numbers():
    with pytest.raises(CorpusTooLargeError) as info:
        check_build_fits(Q4, 2_000_000, "cuda", ram=16 * GIB, device_memory=40 * GIB)
    msg = str(info.value)
    assert "2,000,000 chunks x 2,560 dims" in msg and "16.0 GiB is free" in msg
    assert "subset" in msg
    assert info.value.needed > 0.85 * 16 * GIB


def test_an_index_in_qdrant_counts_two_copies_of_the_vectors_not_four():
    # 1M x 2560 float32 = 10.2 GB a copy: 4.05 copies (vectors, graph, truncated copy, buffer) do not fit 40 GiB,
    # 2 (vectors + buffer; the graph lives in the Qdrant server) do
    with pytest.raises(CorpusTooLargeError):
        check_build_fits(Q4, 1_000_000, "cuda", ram=40 * GIB, device_memory=40 * GIB)
    fits = check_build_fits(Q4, 1_000_000, "cuda", ram=40 * GIB, device_memory=40 * GIB, index_in_process=False)
    assert fits.corpus_bytes == int(1_000_000 * 2560 * 4 * 2.0)


def test_cpu_build_counts_model_and_corpus_together():
    fits = check_build_fits(MINI, 10_000, "cpu", ram=8 * GIB)
    assert fits.model_bytes > 0 and fits.corpus_bytes == int(10_000 * 384 * 4 * 4.05)
    tight = fits.model_bytes + fits.corpus_bytes
    with pytest.raises(CorpusTooLargeError, match="on top of"):
        check_build_fits(MINI, 10_000, "cpu", ram=int(tight / 0.85) - 1)
    check_build_fits(MINI, 10_000, "cpu", ram=int(tight / 0.85) + 1)


def test_an_already_loaded_model_is_not_counted_twice():
    fits = check_build_fits(Q4, 100, "cpu", ram=12 * GIB, model_loaded=True)  # refused above when not loaded
    assert fits.model_bytes == 0 and fits.corpus_bytes > 0


def test_endpoint_model_needs_no_local_model_memory():
    remote = dataclasses.replace(Q8, backend="endpoint", base_urls=("http://127.0.0.1:9/v1",))
    fits = check_build_fits(remote, 1000, "cpu", ram=1 * GIB)
    assert fits.model_bytes == 0 and fits.corpus_bytes > 0


def test_this_machine_measured_memory_refuses_absurd_and_accepts_the_bundled_pair():
    assert available_ram() > 0
    with pytest.raises(CorpusTooLargeError):
        check_build_fits(MINI, 10**10, "cpu")  # ~62 TB of vectors: refused on any machine
    check_build_fits(MINI, 2000, "cpu")  # the bundled model on a small corpus fits anywhere we run


def test_negative_chunk_count_is_an_input_error():
    with pytest.raises(DashboardError, match="n_chunks"):
        check_build_fits(MINI, -1, "cpu", ram=GIB)
