"""Issue 31: a bundle import holds about its vectors' size at most, not six times the zip. Members are streamed
to disk and memory-mapped, rows checked a block at a time (with the whole array's messages), the store written
from the map a block at a time; the Home page imports a bundle from a path on this machine as it does an upload."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.bundle import BundleError, ExportModel, make_bundle
from core.bundle.checks import check_rows
from core.ingest import load_files
from core.store import EmbeddingStore, text_hash
from core.types import ModelSpec

ROOT = Path(__file__).resolve().parent.parent


def unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def mapped(arr: np.ndarray, path: Path) -> np.ndarray:
    np.save(path, arr)
    return np.load(path, mmap_mode="r")


def refusal(arr: np.ndarray, block: int) -> str:
    with pytest.raises(BundleError) as err:
        check_rows(arr, "vectors/A.npy", block=block)
    return str(err.value)


def test_rows_are_checked_a_block_at_a_time_with_the_whole_arrays_messages(tmp_path):
    base = unit(50, 8)
    zeros = base.copy()
    zeros[[7, 33]] = 0.0
    zeros[20] *= 2.0
    off = base.copy()
    off[[20, 41]] *= 2.0
    nan = base.copy()
    nan[45, 3] = np.nan
    for name, arr in (("zeros", zeros), ("off", off), ("nan", nan)):
        whole = refusal(arr, block=10**6)
        assert refusal(mapped(arr, tmp_path / f"{name}.npy"), block=4) == whole
    assert "has 2 zero vector(s) (first: row 7)" in refusal(zeros, block=4)
    assert "has 2 row(s) that are not unit length (row 20 has length 2)" in refusal(off, block=4)
    assert "NaN or infinite" in refusal(nan, block=4)
    check_rows(mapped(base, tmp_path / "ok.npy"), "vectors/A.npy", block=4)  # unit rows pass


class Refuses:
    """An embedder the store must never call: every vector is already there."""

    def __init__(self, dim: int) -> None:
        self.spec = ModelSpec(name="stored", model_id="stored", dim=dim)
        self.cache_key = "bundle-key"
        self.max_tokens = 512

    def encode_documents(self, texts, **_):
        raise AssertionError(f"embedded {len(texts)} texts")


def test_put_streams_a_memory_map_into_the_store_and_writes_only_what_it_lacks(tmp_path, monkeypatch):
    import core.store as store_mod

    monkeypatch.setattr(store_mod, "SEGMENT_SIZE", 16)
    monkeypatch.setattr(store_mod, "BULK_SEGMENT_BYTES", 100 * 8 * 4)  # 100 rows of 8 dims a segment
    monkeypatch.setattr(store_mod, "WRITE_BLOCK_BYTES", 7 * 8 * 4)  # written 7 rows at a time
    texts = [f"text {i}" for i in range(600)]
    hashes = [text_hash(t) for t in texts]
    vectors = mapped(unit(600, 8), tmp_path / "A.npy")
    store = EmbeddingStore(tmp_path / "store")
    assert store.put("bundle-key", hashes[100:200:3], vectors[100:200:3]) == 34  # rows with gaps
    assert store.put("bundle-key", hashes, vectors) == 600 - 34
    assert store.put("bundle-key", hashes, vectors) == 0
    again = EmbeddingStore(
        tmp_path / "store"
    )  # what a later process finds: every segment valid, rows in place
    got, embedded = again.embed(Refuses(8), texts[::-1])
    assert embedded == 0 and np.array_equal(got, np.asarray(vectors)[::-1])
    sizes = [p.stat().st_size for p in (tmp_path / "store").rglob("*.npy")]
    assert len(sizes) == 1 + 6 and max(sizes) <= 100 * 8 * 4 + 128  # 34 rows, then 566 in segments of 100


# ---- the import's peak memory, in a fresh process ----------------------------------------------------------

DIM = 1536  # wide vectors: the vectors, not the corpus, are what an import must not copy
TEXTS = 6_000


class Hashed:
    """A model that embeds nothing: a text's vector is seeded by its hash, so the importing process agrees."""

    max_tokens = 512
    device = "cpu"

    def __init__(self, name: str) -> None:
        self.spec = ModelSpec(name=name, model_id=f"synthetic/{name}", dim=DIM, revision="hashed-1")
        self.cache_key = f"synthetic/{name}|hashed-1"

    def encode_documents(self, texts, **_):
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(f"{self.spec.name}:{t}".encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(DIM, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts, **_):
        return self.encode_documents(texts)


_CHILD = r"""
import json, sys
from pathlib import Path
from core.bundle import install, read_bundle
from core.store import EmbeddingStore
from tests.test_bundle_memory import Hashed


def mib(field):  # VmRSS: resident now; VmHWM: this program's peak (since its exec, whatever its parent held)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field)) / 1024


before = mib("VmRSS")
source = Path(sys.argv[1]) if sys.argv[3] == "path" else Path(sys.argv[1]).read_bytes()
bundle = read_bundle(source)
done = install(bundle, {m.slot: Hashed(m.name) for m in bundle.models}, EmbeddingStore(sys.argv[2]))
print(json.dumps({"grew_mib": mib("VmHWM") - before, "written": [d.written for d in done]}))
"""


@pytest.fixture(scope="module")
def wide_bundle(tmp_path_factory) -> Path:
    sections = [
        f"## Part {i}\n\nRecord {i} says the quota of tenant {i * 7} is {i % 97} requests.\n"
        for i in range(TEXTS)
    ]
    files = [(f"f{k}.md", "\n".join(sections[k : k + 100]).encode()) for k in range(0, TEXTS, 100)]
    corpus = load_files(files, name="wide")
    texts = list(dict.fromkeys(c.embed_text for c in corpus.chunks))
    assert len(texts) == TEXTS
    models = [ExportModel(slot=s, name=f"hashed-{s}", embedder=Hashed(f"hashed-{s}"),  # type: ignore[arg-type]
                          vectors=Hashed(f"hashed-{s}").encode_documents([c.embed_text for c in corpus.chunks]))
              for s in "AB"]  # fmt: skip
    path = tmp_path_factory.mktemp("wide") / "wide.zip"
    path.write_bytes(make_bundle(corpus, models, origin="upload"))
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_an_import_from_a_path_grows_memory_by_less_than_its_vectors(wide_bundle, tmp_path):
    vectors_mib = 2 * TEXTS * DIM * 4 / 2**20  # 70 MiB
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(wide_bundle), str(tmp_path / "store"), "path"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["written"] == [TEXTS, TEXTS]
    # before: the zip's bytes, each member read whole, np.load's copy, a float64 copy for the norms, the
    # store's gathered copy: several times the vectors. Now the vectors are mapped and let go of a block at a time.
    assert found["grew_mib"] < 0.75 * vectors_mib, found  # 328 MiB before, 34 now
