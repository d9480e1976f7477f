"""hnswlib builds and batched queries use every core the process may run on, passed explicitly (hnswlib's own -1
means the machine's core count, which oversubscribes a pinned process)."""

from __future__ import annotations

import os

import hnswlib
import numpy as np
import pytest

import core.search.index as index_mod
from core.ingest import corpus_sha256
from core.search import HnswIndex, ModelIndex
from core.store import EmbeddingStore
from core.types import Chunk, Corpus, ModelSpec

RealIndex = hnswlib.Index


class SpyIndex:
    """hnswlib.Index that records the threads it was given."""

    calls: list[tuple[str, int]] = []

    def __init__(self, *a: object, **k: object) -> None:
        self._raw = RealIndex(*a, **k)

    def add_items(self, data: np.ndarray, ids: np.ndarray, num_threads: int = -1, **k: object) -> None:
        SpyIndex.calls.append(("add_items", num_threads))
        self._raw.add_items(data, ids, num_threads=num_threads, **k)

    def set_num_threads(self, n: int) -> None:
        SpyIndex.calls.append(("set_num_threads", n))
        self._raw.set_num_threads(n)

    def __getattr__(self, name: str) -> object:
        return getattr(self._raw, name)


class Stub:
    spec = ModelSpec(name="stub", model_id="stub", dim=32)
    calls = 0
    cache_key = "stub"


@pytest.fixture()
def spy(monkeypatch):
    SpyIndex.calls = []
    monkeypatch.setattr(index_mod.hnswlib, "Index", SpyIndex)
    monkeypatch.setattr(index_mod, "cpu_cores", lambda: 3)
    return SpyIndex.calls


def _vectors(n: int, d: int = 32) -> np.ndarray:
    v = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_model_index_build_passes_every_core_to_hnswlib(spy, tmp_path):
    n = 3000  # two insert batches
    chunks = tuple(Chunk(id=f"c{i}", source="f.md", text=f"t{i}", lang="en") for i in range(n))
    corpus = Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="t")
    mi = ModelIndex(embedder=Stub(), corpus=corpus, vectors=_vectors(n), store=EmbeddingStore(tmp_path))
    idx = mi.index()
    assert idx.count == n
    adds = [t for name, t in spy if name == "add_items"]
    assert adds == [3, 3]
    assert ("set_num_threads", 3) in spy  # batched queries too


def test_explicit_thread_count_is_kept_and_loaded_indexes_query_on_every_core(spy, tmp_path):
    idx = HnswIndex.build(_vectors(200), num_threads=1)
    assert [t for name, t in spy if name == "add_items"] == [1]
    idx.save(tmp_path / "i.hnsw")
    spy.clear()
    HnswIndex.load(tmp_path / "i.hnsw")
    assert spy == [("set_num_threads", 3)]


def test_cpu_cores_is_the_affinity_count():
    cores = index_mod.cpu_cores()
    assert 1 <= cores <= (os.cpu_count() or cores)
