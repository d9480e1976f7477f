"""Shared helpers for the benchmark scripts: ratio lines, timing, hardware bounds and test data generators.

Every script prints one ``RATIO`` line per target, e.g.::

    engine/raw docs/s = 0.98 (target >= 0.95) MET

Figures are from a single run on the machine they ran on; rerun them there before comparing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STDLIB = Path(os.__file__).resolve().parent
RESULTS_ENV = "BENCH_RESULTS"  # a JSONL file every ratio line is appended to (run_all.py sets it)
STORE_ENV = "BENCH_STORE"  # persistent store for the real-text corpus embeddings (reused between runs)


def parse_args(doc: str, *, build_only: bool = False, argv: list[str] | None = None) -> argparse.Namespace:
    """--quick (tiny sizes, CI smoke; not figures) for every script."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the script runs, not figures"
    )
    if build_only:
        parser.add_argument(
            "--build-only", action="store_true", help="only build and cache the synthetic indexes"
        )
    return parser.parse_args(argv)


def ratio(
    name: str, value: float, *, target: float, op: str = ">=", note: str = "", report: bool = False
) -> bool:
    """Print (and record) one measured ratio against its target; returns whether it is met."""
    met = value >= target if op == ">=" else value <= target
    verdict = "REPORTED" if report else ("MET" if met else "MISSED")
    line = f"{name} = {value:.3g} (target {'report only' if report else f'{op} {target:g}'}) {verdict}"
    print(line + (f"  [{note}]" if note else ""), flush=True)
    out = os.environ.get(RESULTS_ENV)
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            row = {"name": name, "value": value, "target": target, "op": op, "met": met, "verdict": verdict}
            fh.write(json.dumps(row) + "\n")
    return met


def info(name: str, value: str) -> None:
    """Print a measured figure that has no target."""
    print(f"  {name}: {value}", flush=True)


def times(fn: Callable[[], object], *, repeat: int, warmup: int = 1) -> list[float]:
    """Seconds of ``repeat`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: list[float]) -> float:
    """Median of a list of seconds."""
    return statistics.median(xs)


def load_average() -> str:
    """The 1/5/15-minute load average and the core count (the figures depend on both)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


# ---- hardware bounds -----------------------------------------------------------------------------------


def memory_bandwidth(*, mbytes: int = 512, repeat: int = 5) -> float:
    """Best streaming-read bandwidth in bytes/s over a buffer much larger than the caches.

    Three readers, best taken: numpy's SIMD sum, a BLAS dot of the buffer with itself viewed as (n, 256) @
    (256,) (the same kernel shape a single exact query uses), and max. Read bytes only.
    """
    n = mbytes * (1 << 20) // 4
    a = np.random.default_rng(0).random(n, dtype=np.float32)
    m = a.reshape(-1, 256)
    v = np.ones(256, dtype=np.float32)
    best = 0.0
    for fn in (a.sum, lambda: m @ v, a.max):
        best = max(best, a.nbytes / min(times(fn, repeat=repeat)))
    return best


def matmul_rate(*, n: int = 2048, repeat: int = 5) -> float:
    """Best float32 matrix-multiply rate in FLOP/s (square n x n @ n x n through numpy's BLAS)."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    return 2.0 * n**3 / min(times(lambda: a @ b, repeat=repeat))


# ---- data ----------------------------------------------------------------------------------------------


def clustered_unit_vectors(
    n: int, dim: int, *, clusters: int = 100, spread: float = 0.6, seed: int = 0, decay: bool = False
) -> np.ndarray:
    """Documented generator: ``n`` float32 unit vectors in ``clusters`` Gaussian clusters.

    Centres are standard-normal directions; each point is centre/|centre| + spread * N(0, I/dim), then
    L2-normalised. With spread 0.6 a point's cosine to its own centre is ~0.85 and to other centres ~0,
    which is how real embedding sets look (topics), and harder for HNSW than uniform noise. Cluster
    sizes are uneven (Dirichlet), again like real corpora. ``decay`` scales column j by 1/sqrt(1 + j/32)
    before normalising, so the leading dims carry most of the signal (Matryoshka-like spectrum).
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.dirichlet(np.full(clusters, 2.0))
    labels = rng.choice(clusters, size=n, p=weights)
    out = np.empty((n, dim), dtype=np.float32)
    step = 8192
    for s in range(0, n, step):
        noise = rng.standard_normal((min(step, n - s), dim), dtype=np.float32)
        out[s : s + step] = centres[labels[s : s + step]] + (spread / np.sqrt(dim)) * noise
    if decay:
        out *= (1.0 / np.sqrt(1.0 + np.arange(dim, dtype=np.float32) / 32.0))[None, :]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


class HashedModel:
    """A "model" that embeds nothing: each text's document vector is a unit vector seeded by a hash of the text
    and the model's name, so two processes (a bundle's exporter and its importer, which re-embeds a few texts to
    check them) agree without either holding all the vectors. ``dim`` dims, one fingerprint per name."""

    device = "cpu"
    max_tokens = 512
    notes: list[str] = []

    def __init__(self, name: str, *, dim: int = 384) -> None:
        from core.types import ModelSpec

        self.spec = ModelSpec(name=name, model_id=f"synthetic/{name}", dim=dim, revision="hashed-1")
        self.cache_key = f"synthetic/{name}|hashed-1"
        self.calls = 0

    def encode_documents(self, texts: list[str], **_: object) -> np.ndarray:
        self.calls += 1
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(f"{self.spec.name}:{t}".encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.spec.dim, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        return self.encode_documents(texts)


def stdlib_files(*, max_bytes: int) -> list[tuple[str, bytes]]:
    """Real text: this Python's standard-library modules (code, docstrings, comments), sorted, up to max_bytes."""
    paths = sorted(STDLIB.glob("*.py")) + sorted(STDLIB.glob("*/*.py"))
    out, total = [], 0
    for p in paths:
        rel = p.relative_to(STDLIB).as_posix()
        if rel.startswith(("test", "site-packages", "idlelib", "lib2to3")):
            continue
        data = p.read_bytes()
        out.append((rel, data))
        total += len(data)
        if total >= max_bytes:
            break
    return out


def real_corpus(n_chunks: int, *, size: int = 256, overlap: int = 32):
    """A corpus of about ``n_chunks`` chunks of real text (stdlib source) loaded through core.ingest."""
    from core.ingest import ChunkOptions, corpus_sha256, load_files
    from core.types import Corpus

    options = ChunkOptions(size=size, overlap=overlap)
    # ~(size - overlap) bytes per chunk plus some slack for short files and structure splits
    files = stdlib_files(max_bytes=int(n_chunks * (size - overlap) * 1.3) + 4096)
    corpus = load_files(files, options=options, name=f"stdlib-{n_chunks}")
    chunks = corpus.chunks[:n_chunks]
    return Corpus(chunks=chunks, files=corpus.files, sha256=corpus_sha256(chunks), name=corpus.name)


def bench_store_root() -> Path:
    """Where real-corpus embeddings persist between benchmark runs ($BENCH_STORE or ~/.cache)."""
    env = os.environ.get(STORE_ENV, "").strip()
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "retrieval-compare-bench"
    root.mkdir(parents=True, exist_ok=True)  # a fresh machine has none yet
    return root


# Typed queries on the sample corpus (zh and en, cross-lingual included) for the UI benchmarks.
SAMPLE_QUERIES = [
    "如何实现基于 JWT 的用户鉴权？",
    "Explain the consensus mechanism in blockchain",
    "how do I rotate an API key",
    "分页接口怎么使用游标",
    "what happens when the rate limit is exceeded",
    "webhook 签名如何校验",
    "PBFT 和 Raft 有什么区别",
    "data retention policy for deleted documents",
    "SSO setup with SAML",
    "向量模型如何选择",
    "backup and restore of the index",
    "PDF import fails with no text layer",
]
