"""Vector search: Matryoshka truncation, exact numpy search (ground truth) and a typed hnswlib adapter."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import hnswlib
import numpy as np

from core.dims import check_dims
from core.errors import SearchError, StoreError
from core.store import atomic_write, atomic_write_bytes, file_sha256
from core.types import Progress

_NORM_TOL = 1e-3
_SCORE_BUDGET = 1 << 24  # floats in one (queries x corpus) block of scores of an exact search (64 MiB)
_BUILD_BATCH = 2048


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's cpuset, taskset), at least 1.

    hnswlib's own default (num_threads=-1) is std::thread::hardware_concurrency(), the machine's count, which
    oversubscribes a process pinned to fewer cores; every build and batched query here passes this instead.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def truncate(vectors: np.ndarray, dims: int) -> np.ndarray:
    """First ``dims`` columns of each row, L2-renormalised (float32, C-contiguous, a new array)."""
    v = np.asarray(vectors)
    if v.ndim not in (1, 2):
        raise SearchError(f"truncate expects a vector or an (n, dim) matrix, got shape {v.shape}")
    full = v.shape[-1]
    check_dims(dims, full)
    out = np.array(v[..., :dims], dtype=np.float32, order="C", copy=True)
    norms = np.linalg.norm(out, axis=-1, keepdims=True)
    out /= np.maximum(norms, np.float32(1e-12))
    return out


def exact_search(
    vectors: np.ndarray, queries: np.ndarray, k: int, *, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k: (indices int64, scores float32), each (n_queries, min(k, n)), best first.

    Ties go to the lower row. ``exclude`` holds one row per query that is never returned (a pseudo-query's own
    chunk). Queries go in blocks so that the score matrix stays under 64 MiB.
    """
    docs, q = _as_matrix(vectors, "vectors"), _as_matrix(queries, "queries")
    if q.shape[1] != docs.shape[1]:
        raise SearchError(f"queries have {q.shape[1]} dims but the vectors have {docs.shape[1]}")
    k = _check_k(k, docs.shape[0] - (exclude is not None))
    n_q = q.shape[0]
    idx = np.empty((n_q, k), dtype=np.int64)
    scores = np.empty((n_q, k), dtype=np.float32)
    step = query_block_rows(docs.shape[0])
    for s in range(0, n_q if k else 0, step):
        block = q[s : s + step] @ docs.T
        idx[s : s + step] = rank_block(block, k, exclude=exclude, start=s)
        scores[s : s + step] = np.take_along_axis(block, idx[s : s + step], axis=1)
    return idx, scores


def query_block_rows(n_docs: int) -> int:
    """Queries per block of an exact search over ``n_docs`` rows (bounds the score matrix's memory)."""
    return max(1, _SCORE_BUDGET // max(n_docs, 1))


def rank_block(
    scores: np.ndarray, k: int, *, exclude: np.ndarray | None = None, start: int = 0
) -> np.ndarray:
    """Row indices of the k highest scores per row, best first, ties by lower index.

    ``exclude[start + i]`` (if given) is masked out of row i first (in place). A value partition, not an argsort:
    every score at least a cheap lower bound of the k-th largest is kept, then only those are sorted.
    """
    m, n = scores.shape
    if exclude is not None:
        scores[np.arange(m), exclude[start : start + m]] = -np.inf
    k = min(k, n)
    if k <= 0 or m == 0:
        return np.empty((m, max(k, 0)), dtype=np.int64)
    if k == n:
        cols = np.broadcast_to(np.arange(n), (m, n))
        return np.take_along_axis(cols, np.lexsort((cols, -scores), axis=1), axis=1)
    kth = _kth_lower_bound(scores, k)
    flat = np.flatnonzero(scores >= kth[:, None])  # 2-D np.nonzero is ~50x slower than flatnonzero
    rows, cols = np.divmod(flat, n)
    counts = np.bincount(rows, minlength=m)
    if counts.min() < k:
        raise SearchError("scores contain NaN: the vectors hold NaN values; re-embed or clean them")
    order = np.lexsort((cols, -scores[rows, cols], rows))  # by row, score descending, then position
    starts = np.cumsum(counts) - counts
    return cols[order][starts[:, None] + np.arange(k)]


def _kth_lower_bound(scores: np.ndarray, k: int, *, group: int = 64) -> np.ndarray:
    """Per row, a value <= the k-th largest score: the k-th largest of the maxima of groups of columns.

    k groups each hold an element >= that value, so every top-k element passes it; few others do. One max pass
    plus a partition of n/group maxima: several times cheaper than partitioning the whole row.
    """
    m, n = scores.shape
    whole = n - n % group
    if whole // group < 4 * k:
        return np.partition(scores, n - k, axis=1)[:, n - k]
    maxima = scores[:, :whole].reshape(m, whole // group, group).max(axis=2)
    if whole < n:
        maxima = np.concatenate([maxima, scores[:, whole:].max(axis=1, keepdims=True)], axis=1)
    g = maxima.shape[1]
    return np.partition(maxima, g - k, axis=1)[:, g - k]


@dataclass(frozen=True)
class IndexParams:
    """HNSW parameters: graph degree M, build beam ef_construction, search beam ef_search."""

    M: int = 16
    ef_construction: int = 200
    # 128: recall@10 >= 0.99 on 50k x 768 and x 2560 (benchmarks/bench_ann.py); 64 gave 0.97-0.98
    ef_search: int = 128

    def __post_init__(self) -> None:
        for name in ("M", "ef_construction", "ef_search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SearchError(f"IndexParams.{name} must be a positive integer, got {value!r}")
        if self.M < 2:
            raise SearchError(f"IndexParams.M must be at least 2, got {self.M}")

    @property
    def key(self) -> str:
        """Part of an index cache key (ef_search is not, it is a search-time setting)."""
        return f"M{self.M}-efc{self.ef_construction}"


class HnswIndex:
    """An immutable hnswlib inner-product index over unit vectors; labels are row positions.

    Once built or loaded no items are ever added, which is what makes concurrent ``search`` calls safe
    (hnswlib's ``add_items`` is not safe alongside ``knn_query``). The search beam ``ef`` is shared state in
    hnswlib; it is changed only while no search runs, and it is always at least ``k``.
    """

    def __init__(self, raw: hnswlib.Index, *, dim: int, count: int, params: IndexParams) -> None:
        self._raw, self.dim, self.count, self.params = raw, dim, count, params
        self._cond = threading.Condition()
        self._active = 0
        self._raw.set_ef(max(params.ef_search, 1))
        self._raw.set_num_threads(cpu_cores())  # batched knn_query: every core this process may use

    def __repr__(self) -> str:
        return f"HnswIndex(count={self.count}, dim={self.dim}, {self.params})"

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        *,
        params: IndexParams = IndexParams(),
        progress: Progress | None = None,
        num_threads: int | None = None,
    ) -> HnswIndex:
        """Build from unit vectors (rows become labels 0..n-1); progress(done, total, items/s).

        ``num_threads`` None: every core this process may use (``cpu_cores``); hnswlib inserts a batch of
        ``_BUILD_BATCH`` rows in parallel (the graph then depends on thread timing; 1 thread makes it repeatable).
        """
        data = _as_matrix(vectors, "vectors")
        _check_unit(data)
        n, dim = data.shape
        threads = cpu_cores() if num_threads is None or num_threads < 1 else int(num_threads)
        raw = hnswlib.Index(space="ip", dim=dim)
        raw.init_index(max_elements=max(n, 1), M=params.M, ef_construction=params.ef_construction)
        t0 = time.perf_counter()
        for s in range(0, n, _BUILD_BATCH):
            block = data[s : s + _BUILD_BATCH]
            raw.add_items(block, np.arange(s, s + len(block)), num_threads=threads)
            if progress is not None:
                done, elapsed = s + len(block), time.perf_counter() - t0
                progress(done, n, done / elapsed if elapsed > 0 else 0.0)
        if progress is not None and n == 0:
            progress(0, 0, 0.0)
        return cls(raw, dim=dim, count=n, params=params)

    @classmethod
    def load(cls, path: Path | str, *, params: IndexParams | None = None) -> HnswIndex:
        """Load an index written by ``save``; a file that fails its checksum raises StoreError (never loaded)."""
        path = Path(path)
        try:
            meta = json.loads(_meta_path(path).read_text(encoding="utf-8"))
            dim, count = int(meta["dim"]), int(meta["count"])
            ok = path.stat().st_size == int(meta["nbytes"]) and file_sha256(path) == meta["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"Index file {path} or its metadata is missing or unreadable ({exc}); rebuild it."
            ) from exc
        if not ok:
            raise StoreError(
                f"Index file {path} does not match its checksum (truncated or corrupt); rebuild it."
            )
        raw = hnswlib.Index(space="ip", dim=dim)
        try:
            raw.load_index(str(path), max_elements=max(count, 1))
        except RuntimeError as exc:
            raise StoreError(f"hnswlib could not load {path} ({exc}); delete it and rebuild.") from exc
        if raw.get_current_count() != count:
            raise StoreError(
                f"Index file {path} holds {raw.get_current_count()} items, expected {count}; rebuild it."
            )
        stored = IndexParams(M=int(meta["M"]), ef_construction=int(meta["ef_construction"]))
        ef = params.ef_search if params is not None else IndexParams().ef_search
        return cls(raw, dim=dim, count=count, params=IndexParams(stored.M, stored.ef_construction, ef))

    def save(self, path: Path | str) -> None:
        """Write the index atomically, then a JSON sidecar (dims, count, params, checksum) beside it."""
        path = Path(path)
        atomic_write(path, lambda tmp: self._raw.save_index(str(tmp)))
        meta = {
            "dim": self.dim,
            "count": self.count,
            "M": self.params.M,
            "ef_construction": self.params.ef_construction,
            "space": "ip",
            "nbytes": path.stat().st_size,
            "sha256": file_sha256(path),
        }
        atomic_write_bytes(_meta_path(path), json.dumps(meta).encode())

    def with_values(self, vectors: np.ndarray) -> HnswIndex:
        """The same graph (links, levels, entry point) holding ``vectors`` instead (row i for label i): no rebuild.

        For measuring a lower storage precision over a graph built once (the frontier's float16 HNSW: the float32
        graph with its values rounded through float16). Goes through hnswlib's pickle state, whose level-0 block
        holds each element's links, then its float32 vector, then its label, at the offsets the state names.
        """
        data = _as_matrix(vectors, "vectors")
        if data.shape != (self.count, self.dim):
            raise SearchError(
                f"with_values needs a ({self.count}, {self.dim}) matrix, got shape {data.shape}"
            )
        state = dict(self._raw.__getstate__()[0])
        size, off, lab = (int(state[k]) for k in ("size_data_per_element", "offset_data", "label_offset"))
        level0 = np.array(state["data_level0"], dtype=np.int8, copy=True).reshape(
            int(state["max_elements"]), size
        )
        used = level0[: int(state["cur_element_count"])]
        labels = np.ascontiguousarray(used[:, lab : lab + 8]).view(np.uint64).ravel().astype(np.int64)
        used[:, off : off + 4 * self.dim] = data[labels].view(np.int8)
        state["data_level0"] = level0.reshape(-1)
        raw = hnswlib.Index.__new__(hnswlib.Index)
        raw.__setstate__((state,))
        return HnswIndex(raw, dim=self.dim, count=self.count, params=self.params)

    @property
    def nbytes(self) -> int:
        """Serialized size of the index in bytes."""
        return int(self._raw.index_file_size())

    @property
    def ef(self) -> int:
        """The current hnswlib search beam."""
        return int(self._raw.ef)

    def search(self, queries: np.ndarray, *, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-k: (labels int64, scores float32), (n_queries, min(k, count)); ef >= k always."""
        q = _as_matrix(queries, "queries")
        if q.shape[1] != self.dim:
            raise SearchError(f"queries have {q.shape[1]} dims but this index has {self.dim}")
        k = _check_k(k, self.count)
        if ef is not None and (isinstance(ef, bool) or not isinstance(ef, int) or ef < 1):
            raise SearchError(f"ef must be a positive integer, got {ef!r}")
        if k == 0 or q.shape[0] == 0:
            return np.empty((q.shape[0], k), dtype=np.int64), np.empty((q.shape[0], k), dtype=np.float32)
        want = max(ef if ef is not None else self.params.ef_search, k)
        self._enter(want, exact_ef=ef is not None)
        try:
            labels, dist = self._raw.knn_query(q, k=k)
        except RuntimeError as exc:
            raise SearchError(
                f"hnswlib could not return {k} results ({exc}); raise ef or use exact search."
            ) from exc
        finally:
            self._leave()
        return labels.astype(np.int64, copy=False), (1.0 - dist).astype(np.float32, copy=False)

    def _enter(self, want: int, *, exact_ef: bool) -> None:
        with self._cond:
            while True:
                current = int(self._raw.ef)
                if current == want or (not exact_ef and current >= want):
                    break
                if self._active == 0:
                    self._raw.set_ef(want)
                    break
                self._cond.wait()
            self._active += 1

    def _leave(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify_all()


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _as_matrix(a: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise SearchError(f"{what} must be an (n, dim) matrix with dim >= 1, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _check_k(k: int, count: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise SearchError(f"k must be a positive integer, got {k!r}")
    return min(int(k), count)


def _check_unit(data: np.ndarray) -> None:
    if data.shape[0] == 0:
        return
    norms = np.linalg.norm(data, axis=1)
    bad = np.flatnonzero((np.abs(norms - 1.0) > _NORM_TOL) & (norms > 0))
    if bad.size:
        raise SearchError(
            f"{bad.size} vectors are not L2-normalised (row {bad[0]} has norm {norms[bad[0]]:.4f}); inner-product "
            "HNSW needs unit vectors. Normalise them first, e.g. with core.search.index.truncate(vectors, dims)."
        )
