"""Store integrity: a build killed with SIGKILL mid-write leaves the last complete state; a full disk says so.

The child process embeds a corpus through the real EmbeddingStore and builds the real HNSW index; a hook in
the child stops it at a chosen point inside a write (half a temp file on disk, a .npy without its .json, half
an index file) and the parent kills it with SIGKILL. The parent then opens the same store: every completed
segment is reused (not re-embedded), nothing half-written is read, and the rebuilt index answers like exact
search. The embedder is a deterministic hash-to-unit-vector function: this file is about bytes on disk, not
about what a model means.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core import store as store_mod
from core.errors import StoreError
from core.ingest import corpus_sha256
from core.search.engine import build_model_index
from core.search.index import exact_search
from core.store import EmbeddingStore
from core.types import Chunk, Corpus, ModelSpec, SearchParams

ROOT = Path(__file__).resolve().parent.parent
DIM = 48
N_TEXTS = 3 * store_mod.SEGMENT_SIZE + 100  # three complete segments, then the killed one


class HashEmbedder:
    """Deterministic unit vectors from each text's sha256 (store tests are about bytes, not meaning)."""

    def __init__(self, *, key: str = "hash|v1") -> None:
        self.spec = ModelSpec(name="hash-embedder", model_id="hash", backend="test", dim=DIM)
        self.calls = 0
        self.embedded = 0
        self._key = key

    @property
    def cache_key(self) -> str:
        return self._key

    @staticmethod
    def vector(text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode_documents(self, texts, *, progress=None, batch_size=32):
        self.calls += 1
        self.embedded += len(texts)
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def encode_queries(self, texts, *, instruction=None):
        return self.encode_documents(texts)


def make_corpus(n: int = N_TEXTS) -> Corpus:
    chunks = tuple(
        Chunk(id=f"doc{i}", source="kill.txt", text=f"passage {i} about topic {i % 37}") for i in range(n)
    )
    return Corpus(chunks, (), corpus_sha256(chunks), "kill-test")


CHILD = textwrap.dedent(
    """
    import os, sys, time, pathlib
    sys.path.insert(0, {root!r})
    import core.store as store_mod
    import core.search.index as index_mod
    from core.search.engine import build_model_index
    from tests.test_hardening_store import HashEmbedder, make_corpus

    point, root = sys.argv[1], sys.argv[2]
    segments = 0

    def park():
        print("PARKED", flush=True)
        time.sleep(600)

    real_write_bytes = pathlib.Path.write_bytes
    def write_bytes(self, data):
        global segments
        if self.name.endswith(".npy.tmp") or (".npy." in self.name and self.name.endswith(".tmp")):
            segments += 1
            if point == "half-npy" and segments == 4:
                with open(self, "wb") as fh:
                    fh.write(data[: len(data) // 2]); fh.flush(); os.fsync(fh.fileno())
                park()
        return real_write_bytes(self, data)
    pathlib.Path.write_bytes = write_bytes

    real_replace = os.replace
    def replace(src, dst):
        real_replace(src, dst)
        if point == "npy-without-json" and str(dst).endswith(".npy") and segments == 4:
            park()
    store_mod.os.replace = replace

    real_atomic = index_mod.atomic_write
    def atomic_write(path, write):
        if point == "half-index" and str(path).endswith(".hnsw"):
            tmp = path.with_name("." + path.name + ".killed.tmp")
            write(tmp)
            os.truncate(tmp, os.path.getsize(tmp) // 2)
            park()
        return real_atomic(path, write)
    index_mod.atomic_write = atomic_write

    store = store_mod.EmbeddingStore(root)
    build_model_index(make_corpus(), HashEmbedder(), store=store)
    print("FINISHED", flush=True)
    """
).format(root=str(ROOT))


def run_until_parked(point: str, root: Path) -> None:
    """Start the child build, wait for it to park inside the chosen write, SIGKILL it."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, point, str(root)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.strip() == "PARKED", f"child did not reach {point}: {line!r} {proc.stderr.read()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("point", ["half-npy", "npy-without-json", "half-index"])
def test_sigkill_mid_write_keeps_last_complete_state(point, tmp_path):
    root = tmp_path / "store"
    run_until_parked(point, root)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, "the child wrote nothing before the kill"
    if point == "half-npy":
        assert any(p.name.endswith(".tmp") for p in files), "expected the half-written temp file on disk"

    corpus = make_corpus()
    emb = HashEmbedder()
    mi = build_model_index(corpus, emb, store=EmbeddingStore(root))
    reused = N_TEXTS - emb.embedded
    # all three segments completed before the kill are reused; the killed one (and, for the index point,
    # nothing at all) is embedded again
    if point == "half-index":
        assert emb.embedded == 0
    else:
        assert reused == 3 * store_mod.SEGMENT_SIZE and emb.embedded == N_TEXTS - reused
    expected = np.stack([HashEmbedder.vector(c.text) for c in corpus.chunks])
    np.testing.assert_array_equal(mi.vectors, expected)  # no byte of a truncated file was read
    q = expected[[5, N_TEXTS // 2, N_TEXTS - 1]]
    got, _ = mi.search_vectors(q, SearchParams(k=5))
    want, _ = exact_search(expected, q, 5)
    assert (got[:, 0] == want[:, 0]).all()
    # a third process sees the same, complete state and embeds nothing
    again = HashEmbedder()
    mi2 = build_model_index(corpus, again, store=EmbeddingStore(root))
    assert again.embedded == 0
    np.testing.assert_array_equal(mi2.vectors, expected)


def test_truncated_segment_file_is_never_read(tmp_path):
    """Bytes cut off a finished .npy (a disk that lied about fsync): the segment is dropped and re-embedded."""
    root = tmp_path / "store"
    texts = [c.text for c in make_corpus(600).chunks]
    EmbeddingStore(root).embed(HashEmbedder(), texts)
    npy = max((root / "embeddings").rglob("*.npy"), key=lambda p: p.stat().st_size)
    os.truncate(npy, npy.stat().st_size - 100)
    emb = HashEmbedder()
    vecs, embedded = EmbeddingStore(root).embed(emb, texts)
    assert embedded == store_mod.SEGMENT_SIZE  # exactly the damaged segment
    np.testing.assert_array_equal(vecs, np.stack([HashEmbedder.vector(t) for t in texts]))


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str = "160k"):
    """Mount a tmpfs of ``size`` at ``path`` (root only); yields False when mounting is not possible."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield False
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_full_disk_gives_a_clear_error_naming_path_and_fix(tmp_path, monkeypatch):
    mnt = tmp_path / "full"
    texts = [c.text for c in make_corpus(2000).chunks]  # ~4 x 100 KB segments: more than the disk holds
    with tiny_tmpfs(mnt) as mounted:
        if not mounted:  # no tmpfs here: make every write fail as a full disk would
            real = os.write

            def enospc(fd, data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr(store_mod.Path, "write_bytes", lambda self, data: enospc(0, data))
            assert real
        store = EmbeddingStore(mnt / "store")
        with pytest.raises(StoreError) as info:
            store.embed(HashEmbedder(), texts)
        msg = str(info.value)
        assert "disk is full" in msg
        assert str(mnt / "store") in msg  # names the path
        assert "RETRIEVAL_COMPARE_STORE" in msg and "Free some space" in msg  # and the fix
        leftovers = [p.name for p in (mnt / "store").rglob("*") if p.name.endswith(".tmp")]
        assert not leftovers, f"temp files left on the full disk: {leftovers}"
        if mounted:  # what did fit is intact: a store on the same disk reuses it
            emb = HashEmbedder()
            first = texts[: store_mod.SEGMENT_SIZE]
            vecs, embedded = EmbeddingStore(mnt / "store").embed(emb, first)
            assert embedded == 0
            np.testing.assert_array_equal(vecs, np.stack([HashEmbedder.vector(t) for t in first]))
