"""A search never waits behind another session's build of the same model (issue 18 item 9).

The embedder's QueryFirstGate lets a waiting query in between two steps of a document batch; before, the
model lock was held for a whole store segment (256 chunks) and a 15 ms query took 10-70 s during a build.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.ingest import corpus_sha256
from core.models.embedders import load_embedder
from core.models.gate import QueryFirstGate
from core.models.presets import PRESETS
from core.search.engine import build_model_index
from core.store import EmbeddingStore
from core.types import Chunk, Corpus

WORDS = "consensus ledger token signature rotation latency replica shard quorum index".split()


def _passages(n: int, words: int) -> list[str]:
    return [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(words)) + f" #{i}" for i in range(n)]


def test_gate_lets_an_urgent_caller_in_at_the_next_checkpoint_and_resumes_the_paused_one_first():
    gate = QueryFirstGate()
    log: list[str] = []
    in_build = threading.Event()

    def build(name: str, steps: int) -> None:
        with gate.background():
            in_build.set()
            for i in range(steps):
                gate.checkpoint()
                log.append(f"{name}{i}")
                time.sleep(0.01)

    first = threading.Thread(target=build, args=("a", 30))
    first.start()
    in_build.wait()
    second = threading.Thread(target=build, args=("b", 2))
    second.start()
    time.sleep(0.05)
    with gate.urgent():
        log.append("query")
    first.join()
    second.join()
    q = log.index("query")
    assert q < 30, "the query waited for the whole background call"
    assert log[q + 1 :] == [f"a{i}" for i in range(q, 30)] + ["b0", "b1"]  # the paused build resumes first


@pytest.mark.slow  # real models: a build of 48 MiniLM / 12 e5 passages, twice (~20-60 s of CPU on 2 cores)
@pytest.mark.parametrize(
    "name, n, words, batch", [("all-MiniLM-L6-v2", 48, 120, 16), ("multilingual-e5-small", 12, 80, 4)]
)
def test_a_query_during_a_long_build_finishes_before_the_build(tmp_path, name, n, words, batch):
    embedder = load_embedder(PRESETS[name])
    texts = _passages(n, words)
    chunks = tuple(Chunk(id=f"p{i}", source="p.md", text=t, lang="en") for i, t in enumerate(texts))
    corpus = Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="long")
    first_batch = threading.Event()
    seen: dict[str, float] = {}
    built: dict[str, np.ndarray] = {}

    def progress(done: int, total: int, rate: float) -> None:
        first_batch.set()
        if done >= total:
            seen.setdefault("last batch", time.perf_counter())

    def run() -> None:
        store = EmbeddingStore(tmp_path)
        built["vectors"] = build_model_index(
            corpus, embedder, store=store, batch_size=batch, progress=progress
        ).vectors

    thread = threading.Thread(target=run)
    thread.start()
    assert first_batch.wait(timeout=600)
    embedder.encode_queries(["how is a quorum reached"])
    answered = time.perf_counter()
    thread.join(timeout=900)
    assert "vectors" in built, "the build did not finish"
    assert answered < seen["last batch"], "the query waited for the whole build"
    # the build's vectors are exactly those of an uninterrupted build
    np.testing.assert_array_equal(built["vectors"], embedder.encode_documents(texts, batch_size=batch))
