"""A 2-D layout of a corpus's chunk vectors: UMAP (cosine) up to 20,000 chunks, a seeded sample + transform above.

The rule (``layout(method="auto")``), measured on 2 cores with 384-dim vectors (benchmarks/bench_map.py):
- n < 16 chunks: PCA (the first two principal components); UMAP needs more neighbours than that.
- n <= ``SAMPLE_AT`` (20,000): UMAP on every chunk, cosine, 15 neighbours, min_dist 0.1.
- n > ``SAMPLE_AT``: UMAP fitted on a seeded sample of 20,000 chunks, the other chunks placed by
  ``UMAP.transform`` (their neighbours among the sample). 100k chunks take a few minutes instead of far more.
``Layout.method`` says which of these ran, in words, with the numbers.

Determinism: UMAP with ``random_state`` runs single-threaded and gives the same layout for the same vectors and
seed, ``transform`` included; the sample is drawn with ``numpy.random.default_rng(seed)``. PCA ignores the seed
(it has no randomness). umap-learn imports numba (seconds) and compiles on its first fit in a process (another
~15 s), so it is imported where a layout is computed, not when the app opens; ``cached_layout`` keeps layouts on
disk so a corpus is laid out once per model, method and seed.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import DashboardError
from core.store import EmbeddingStore, atomic_write_bytes
from core.types import Corpus

METHODS = ("auto", "umap", "pca")
SAMPLE_AT = 20_000  # above this many chunks UMAP is fitted on a seeded sample of this size
MIN_UMAP = 16  # fewer chunks than this: PCA (UMAP's 15 neighbours need at least 16 points)
N_NEIGHBORS, MIN_DIST = 15, 0.1
LAYOUT_VERSION = "corpus-map-layout-1"  # bump when what a layout computes changes: cached layouts key on it


class MapError(DashboardError):
    """Vectors, corpora or options the corpus map cannot use; the message names the input and the fix."""


@dataclass(frozen=True)
class Layout:
    """Where each chunk sits on the map: one (x, y) row per chunk, in the corpus's chunk order."""

    xy: np.ndarray  # (n, 2) float32
    method: str  # in words, shown to users, e.g. "umap (cosine, 15 neighbours) on all 460 chunks"
    seed: int
    seconds: float
    model: str  # the model the vectors came from

    def to_dict(self) -> dict:
        """JSON-ready: xy as [[x, y], ...] rounded to 5 decimals."""
        return {
            "model": self.model,
            "method": self.method,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "xy": np.round(self.xy.astype(np.float64), 5).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Layout:
        """The inverse of ``to_dict``."""
        xy = np.asarray(d["xy"], dtype=np.float32).reshape(-1, 2)
        return cls(
            xy=xy,
            method=str(d["method"]),
            seed=int(d["seed"]),
            seconds=float(d["seconds"]),
            model=str(d["model"]),
        )


def unit_rows(vectors: np.ndarray, *, what: str = "vectors") -> np.ndarray:
    """float32 copy with each row L2-normalised (zero rows stay zero); refuses anything but a finite 2-D array."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise MapError(
            f"{what}: expected a non-empty (chunks, dims) matrix, got shape {v.shape}; pass one vector per chunk."
        )
    if not np.isfinite(v).all():
        raise MapError(
            f"{what}: holds NaN or infinite values; re-embed the corpus (the stored vectors are damaged)."
        )
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


def _pca(v: np.ndarray) -> np.ndarray:
    n = v.shape[0]
    if n < 3 or v.shape[1] < 2:
        out = np.zeros((n, 2), dtype=np.float32)
        if n == 2:
            out[1, 0] = float(np.linalg.norm(v[1] - v[0]))
        return out
    from sklearn.decomposition import (
        PCA,
    )  # here: scikit-learn imports scipy (seconds), not needed to open the app

    return PCA(n_components=2, svd_solver="full").fit_transform(v).astype(np.float32)


def _umap(v: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state": single thread is what we want
        import umap  # here: it imports numba and compiles (seconds), only when a map is drawn

        n = v.shape[0]
        nn = min(N_NEIGHBORS, n - 1)
        reducer = umap.UMAP(
            n_components=2, n_neighbors=nn, min_dist=MIN_DIST, metric="cosine", random_state=seed
        )
        if n <= SAMPLE_AT:
            xy = reducer.fit_transform(v)
            return np.asarray(xy, dtype=np.float32), f"umap (cosine, {nn} neighbours) on all {n:,} chunks"
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, size=SAMPLE_AT, replace=False))
        rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
        out = np.empty((n, 2), dtype=np.float32)
        out[sample] = reducer.fit_transform(v[sample])
        out[rest] = reducer.transform(v[rest])
    method = (
        f"umap (cosine, {nn} neighbours) fitted on a seeded {SAMPLE_AT:,}-chunk sample, "
        f"the other {len(rest):,} chunks placed by transform"
    )
    return out, method


def layout(vectors: np.ndarray, *, seed: int = 0, method: str = "auto", model: str = "") -> Layout:
    """Lay out one model's chunk vectors in 2-D (rows L2-normalised first); the rule is in the module docstring.

    ``method``: "auto" (UMAP from 16 chunks, PCA below), "umap" (refused below 16 chunks), "pca".
    """
    if method not in METHODS:
        raise MapError(f"Unknown layout method {method!r}: use one of {', '.join(METHODS)}.")
    v = unit_rows(vectors, what=f"vectors of {model or 'the model'}")
    n = v.shape[0]
    if method == "umap" and n < MIN_UMAP:
        raise MapError(
            f"method='umap' needs at least {MIN_UMAP} chunks, got {n}: use method='pca' or 'auto'."
        )
    t0 = time.perf_counter()
    if method == "pca" or (method == "auto" and n < MIN_UMAP):
        xy, words = _pca(v), f"pca (first two principal components) of all {n:,} chunks"
    else:
        xy, words = _umap(v, seed)
    return Layout(xy=np.ascontiguousarray(xy, dtype=np.float32), method=words, seed=seed,
                  seconds=time.perf_counter() - t0, model=model)  # fmt: skip


def layout_key(corpus: Corpus, model_name: str, vectors: np.ndarray, *, seed: int, method: str) -> str:
    """sha256 of what a layout depends on: corpus content, model, vectors' bytes, method, seed, code version."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    h = hashlib.sha256()
    for part in (LAYOUT_VERSION, corpus.sha256, model_name, method, str(seed), str(v.shape)):
        h.update(part.encode("utf-8") + b"\0")
    h.update(v.tobytes())
    return h.hexdigest()


def cached_layout(
    store: EmbeddingStore,
    corpus: Corpus,
    model_name: str,
    vectors: np.ndarray,
    *,
    seed: int = 0,
    method: str = "auto",
) -> Layout:
    """``layout`` kept on disk under the store's blobs (``corpus_map/<key>.npy`` + ``.json``, the json last).

    Keyed by ``layout_key``: a changed corpus, model, vector, method or seed is a new layout. A cached file that
    does not match its record (shape, size, checksum) is ignored and recomputed; nothing is unpickled.
    """
    if len(vectors) != len(corpus.chunks):
        raise MapError(
            f"{model_name}: {len(vectors)} vectors for {len(corpus.chunks)} chunks of corpus "
            f"{corpus.name or '(unnamed)'}; embed this corpus with the model again."
        )
    key = layout_key(corpus, model_name, vectors, seed=seed, method=method)
    npy, meta_path = store.blob_path(f"corpus_map/{key}.npy"), store.blob_path(f"corpus_map/{key}.json")
    hit = _read_cached(npy, meta_path, len(vectors))
    if hit is not None:
        return Layout(
            xy=hit[0], method=hit[1]["method"], seed=seed, seconds=float(hit[1]["seconds"]), model=model_name
        )
    out = layout(vectors, seed=seed, method=method, model=model_name)
    buf = _npy_bytes(out.xy)
    meta = {
        "method": out.method,
        "seconds": out.seconds,
        "n": len(out.xy),
        "sha256": hashlib.sha256(buf).hexdigest(),
    }
    atomic_write_bytes(npy, buf)
    atomic_write_bytes(meta_path, json.dumps(meta).encode("utf-8"))
    return out


def _npy_bytes(xy: np.ndarray) -> bytes:
    bio = io.BytesIO()
    np.save(bio, xy, allow_pickle=False)
    return bio.getvalue()


def _read_cached(npy: Path, meta_path: Path, n: int) -> tuple[np.ndarray, dict] | None:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        buf = npy.read_bytes()
    except (OSError, ValueError):
        return None
    if (
        not isinstance(meta, dict)
        or meta.get("n") != n
        or meta.get("sha256") != hashlib.sha256(buf).hexdigest()
    ):
        return None
    try:
        xy = np.load(io.BytesIO(buf), allow_pickle=False)
    except ValueError:
        return None
    if xy.shape != (n, 2) or xy.dtype != np.float32 or not isinstance(meta.get("method"), str):
        return None
    return xy, meta
