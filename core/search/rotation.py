"""PCA rotation: an orthogonal rotation onto the principal directions of a corpus's vectors, fitted once, stored.

For a model not trained for truncation, the first d dims of its vectors are an arbitrary cut. Rotating the vectors
onto the principal directions of the corpus (largest variance first) puts the most spread into the first
dims, so that a prefix cut of the rotated vectors keeps more of each vector's geometry. The rotation R is fitted
on the centred corpus vectors (eigenvectors of their covariance) but applied WITHOUT centring, ``x @ R``: R is
orthogonal, so at full dimension every dot product, norm and cosine is the original's (float32 rounding aside)
and the full-dimension ranking does not change. Queries are rotated the same way. Directions are sorted by
variance, descending; each column's sign makes its largest-magnitude entry positive (ties: the first), so a refit
of the same vectors gives the same R.

Stored in the EmbeddingStore's blobs beside the indexes, as ``rotations/<vectors sha>.npy`` (float32, allow_pickle
off), and loaded on the next open instead of refitted.
"""

from __future__ import annotations

import io
import logging

import numpy as np

from core.errors import SearchError, StoreError
from core.store import EmbeddingStore, atomic_write_bytes

log = logging.getLogger(__name__)

_ORTHO_TOL = (
    1e-3  # max |R^T R - I| accepted from a stored rotation (float32 storage, up to a few thousand dims)
)


def fit_rotation(vectors: np.ndarray) -> np.ndarray:
    """The (dim, dim) float32 orthogonal matrix whose columns are the principal directions of ``vectors``.

    Columns sorted by the variance of the centred vectors along them, largest first; each column's sign makes its
    largest-magnitude entry positive. Fitted in float64 (eigh of the covariance: dim x dim, whatever the count).
    Directions the corpus does not span (fewer vectors than dims) come last, in LAPACK's order.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise SearchError(f"fit_rotation needs a non-empty (n, dim) matrix of vectors, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise SearchError(
            "fit_rotation: the vectors hold NaN or infinite values; rebuild the model's vectors."
        )
    centred = x - x.mean(axis=0, keepdims=True)
    cov = centred.T @ centred
    values, vecs = np.linalg.eigh(cov)  # ascending
    order = np.argsort(-values, kind="stable")
    rot = vecs[:, order]
    pivot = np.argmax(np.abs(rot), axis=0)
    signs = np.sign(rot[pivot, np.arange(rot.shape[1])])
    signs[signs == 0] = 1.0
    rot *= signs[None, :]
    return np.ascontiguousarray(rot, dtype=np.float32)


def rotate(vectors: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``vectors @ rotation`` (no centring) as float32, C-contiguous: one vector or an (n, dim) matrix."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.shape[-1] != rotation.shape[0]:
        raise SearchError(
            f"vectors have {v.shape[-1]} dims but the PCA rotation was fitted on {rotation.shape[0]}-dim vectors; "
            "was the corpus embedded with a different model?"
        )
    return np.ascontiguousarray(v @ rotation, dtype=np.float32)


def rotation_blob(vectors_sha: str) -> str:
    """The store blob name of the rotation fitted on the vectors with this sha256."""
    return f"rotations/{vectors_sha[:40]}-pca.npy"


def _valid(rot: object, dim: int) -> bool:
    if not isinstance(rot, np.ndarray) or rot.dtype != np.float32 or rot.shape != (dim, dim):
        return False
    if not np.isfinite(rot).all():
        return False
    gram = rot.T.astype(np.float64) @ rot.astype(np.float64)
    return bool(np.max(np.abs(gram - np.eye(dim))) <= _ORTHO_TOL)


def load_rotation(store: EmbeddingStore, vectors_sha: str, dim: int) -> np.ndarray | None:
    """The stored rotation of these vectors, or None when there is none (or it is unreadable: then it is removed)."""
    path = store.blob_path(rotation_blob(vectors_sha))
    if not path.exists():
        return None
    try:
        rot = np.load(path, allow_pickle=False)
        why = "" if _valid(rot, dim) else f"not an orthogonal {dim} x {dim} float32 matrix"
    except (OSError, ValueError, EOFError) as exc:
        rot, why = None, str(exc)
    if not why:
        return np.ascontiguousarray(rot)
    log.warning("discarding the stored PCA rotation %s (it is fitted again): %s", path, why)
    path.unlink(missing_ok=True)
    return None


def save_rotation(store: EmbeddingStore, vectors_sha: str, rotation: np.ndarray) -> None:
    """Write the rotation beside the vectors' indexes (atomically); a StoreError when the store is not writable."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(rotation, dtype=np.float32), allow_pickle=False)
    atomic_write_bytes(store.blob_path(rotation_blob(vectors_sha)), buf.getvalue())


def stored_rotation(store: EmbeddingStore, vectors: np.ndarray, vectors_sha: str) -> tuple[np.ndarray, bool]:
    """(rotation, fitted now?): the stored rotation of these vectors, else a fresh fit, saved for the next open."""
    dim = int(np.asarray(vectors).shape[1])
    try:
        rot = load_rotation(store, vectors_sha, dim)
    except StoreError as exc:  # an unreadable blobs folder: fit, and try to store below
        log.warning("could not read the stored PCA rotation: %s", exc)
        rot = None
    if rot is not None:
        return rot, False
    rot = fit_rotation(vectors)
    try:
        save_rotation(store, vectors_sha, rot)
    except StoreError as exc:  # the rotation works without its disk copy; say so and go on
        log.warning("could not store the PCA rotation: %s", exc)
    return rot, True
