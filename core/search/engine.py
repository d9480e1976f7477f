"""The facade pages and the CLI use: embed a corpus once, search it at any dimension, by any of the model's reductions."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

import numpy as np

from core.dims import (
    PCA,
    PREFIX,
    Reduction,
    ReductionId,
    check_dims,
    check_reduction,
    offered_dims,
    reductions,
    swept_dims,
)
from core.errors import IngestError, SearchError, StoreError
from core.search.index import HnswIndex, IndexParams, exact_search, truncate
from core.search.rotation import rotate, stored_rotation
from core.store import EmbeddingStore
from core.text import clean_text, has_visible_text
from core.types import BuildStats, Corpus, Embedder, Hit, ModelSpec, Progress, SearchParams, SearchResult

log = logging.getLogger(__name__)

# Up to this many chunks a z-score comes from the query's score against every chunk (one matrix-vector product per
# answer); above it from the corpus vectors' mean and covariance at those dims, computed once per (dims, reduction):
# mean = q . mu and variance = q' C q are the same figures (exact algebra, float64), at d^2 work per answer.
Z_EXACT_MAX_CHUNKS = 20_000
_MOMENT_BLOCK = 8192  # rows per block of the one-off covariance product


@dataclass(frozen=True, eq=False)
class Answer:
    """One query's search as a results page shows it: hits and timings, the query vector, z-scores of the hits."""

    result: SearchResult
    query_vector: np.ndarray  # full dimension, as the model returned it
    z_scores: tuple[float, ...]  # per hit: (score - mean) / std of the query's scores against every chunk
    # (above Z_EXACT_MAX_CHUNKS chunks that mean and std come from the corpus's mean and covariance: the same values)


class _Ran(NamedTuple):
    """What one embed-and-search call produced, before it becomes results."""

    qvecs: np.ndarray
    idx: np.ndarray
    scores: np.ndarray
    dims: int
    exact: bool
    embed_ms: float
    search_ms: float


class VectorIndex(Protocol):
    """What ModelIndex searches at one dimension: core.search.index.HnswIndex, or a view of a Qdrant collection."""

    count: int
    dim: int

    @property
    def nbytes(self) -> int: ...

    def search(
        self, queries: np.ndarray, *, k: int, ef: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


class IndexBackend(Protocol):
    """Where the approximate search runs when it is not in-process hnswlib (core.search.qdrant.QdrantBackend).

    ``build`` makes the index at ``d`` dims ready (uploading what it lacks) and returns it; its ``search`` takes
    full-dimension query vectors (a backend may rescore a low-dim shortlist at full dimension).
    """

    kind: str

    def build(self, mi: ModelIndex, d: int, progress: Progress | None) -> VectorIndex: ...


class ModelIndex:
    """One model's view of one corpus: full-dim vectors (read-only) and lazily built per-(dims, reduction) HNSW indexes.

    Thread-safe: any number of threads may search at once; a per-(dims, reduction) index is built once (a lock per
    key), then cached in memory and in the store. Changing dims never re-embeds anything. A model not trained for
    truncation is also searchable by PCA rotation (core.dims states the rule): the rotation is fitted once per
    corpus and model on first use, stored beside the indexes and loaded on the next open.
    """

    def __init__(
        self,
        *,
        embedder: Embedder,
        corpus: Corpus,
        vectors: np.ndarray,
        store: EmbeddingStore,
        params: IndexParams = IndexParams(),
        stats: BuildStats | None = None,
        backend: IndexBackend | None = None,
    ) -> None:
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[0] != len(corpus.chunks):
            raise SearchError(f"vectors of shape {vecs.shape} do not match {len(corpus.chunks)} chunks")
        vecs.setflags(write=False)
        self.embedder, self.corpus, self.vectors, self.store, self.params = (
            embedder,
            corpus,
            vecs,
            store,
            params,
        )
        self.stats, self.backend = stats, backend  # backend None = in-process hnswlib
        self.vectors_sha = hashlib.sha256(vecs.tobytes()).hexdigest()
        self._lock = threading.Lock()
        self._indexes: dict[tuple[int, ReductionId], VectorIndex] = {}
        self._truncated: dict[tuple[int, ReductionId], np.ndarray] = {(self.dim, PREFIX): vecs}
        self._build_locks: dict[tuple[int, ReductionId], threading.Lock] = {}
        self._moments: dict[tuple[int, ReductionId], tuple[np.ndarray, np.ndarray]] = {}
        self._rotation: np.ndarray | None = None
        self._rotation_lock = threading.Lock()
        self.rotation_fitted: bool | None = (
            None  # None: not needed yet; True: fitted here; False: loaded from the store
        )

    def __repr__(self) -> str:
        return f"ModelIndex({self.spec.name!r}, chunks={len(self.corpus.chunks)}, dim={self.dim})"

    @property
    def spec(self) -> ModelSpec:
        """The model's spec."""
        return self.embedder.spec

    @property
    def name(self) -> str:
        """The system's name (core.search.systems.System): the model's name."""
        return self.spec.name

    @property
    def kind(self) -> str:
        """The system's kind: a dense model."""
        return "dense"

    @property
    def index_bytes(self) -> int:
        """Bytes of the full-dimension index as built (0 before it is built)."""
        return self.stats.index_bytes if self.stats is not None else 0

    @property
    def build_seconds(self) -> float:
        """Embedding plus index time of the last build (0 when unknown)."""
        return self.stats.embed_seconds + self.stats.index_seconds if self.stats is not None else 0.0

    @property
    def dim(self) -> int:
        """Full embedding dimension."""
        return int(self.vectors.shape[1])

    @property
    def offered_dims(self) -> list[int]:
        """The dims pages offer for this model (core.dims states the rule)."""
        return offered_dims(self.dim, self.spec.mrl_dims)

    @property
    def swept_dims(self) -> list[int]:
        """The dims the cost frontier measures for this model (core.dims states the rule)."""
        return swept_dims(self.dim, self.spec.mrl_dims)

    @property
    def reductions(self) -> tuple[Reduction, ...]:
        """How this model gets to d dims (core.dims states the rule): Matryoshka prefix, or post-hoc and PCA."""
        return reductions(self.dim, self.spec.mrl_dims)

    def _dims(self, dims: int | None) -> int:
        if dims is None:
            return self.dim
        return check_dims(dims, self.dim, what=self.spec.name)

    def _reduction(self, reduction: object) -> ReductionId:
        return check_reduction(reduction, allowed=self.reductions, what=self.spec.name)

    @property
    def rotation(self) -> np.ndarray:
        """The PCA rotation of this corpus's vectors, (dim, dim) float32 (fitted once and stored, or loaded)."""
        with self._rotation_lock:
            if self._rotation is None:
                rot, fitted = stored_rotation(self.store, self.vectors, self.vectors_sha)
                rot.setflags(write=False)
                self._rotation, self.rotation_fitted = rot, fitted
            return self._rotation

    def rotate(self, vectors: np.ndarray) -> np.ndarray:
        """Full-dim vectors (queries) rotated by this corpus's PCA rotation, without centring (norms unchanged)."""
        return rotate(vectors, self.rotation)

    def vectors_at(self, dims: int | None = None, reduction: str = PREFIX) -> np.ndarray:
        """Corpus vectors reduced to ``dims`` (prefix, or PCA-rotated then prefix) and renormalised (read-only, cached)."""
        d, r = self._dims(dims), self._reduction(reduction)
        with self._lock:
            cached = self._truncated.get((d, r))
        if cached is not None:
            return cached
        out = truncate(self.vectors if r == PREFIX else rotate(self.vectors, self.rotation), d)
        out.setflags(write=False)
        with self._lock:
            return self._truncated.setdefault((d, r), out)

    def index(
        self,
        dims: int | None = None,
        *,
        reduction: str = PREFIX,
        progress: Progress | None = None,
        keep: bool = True,
    ) -> VectorIndex:
        """The index at ``dims`` by ``reduction`` (built on first use, then cached in memory and on disk or in the backend).

        ``keep`` False (the frontier's sweep over every dimension): loaded from or built into the disk cache, but
        neither it nor its reduced vectors are kept in memory here (one already kept is returned as it is).
        """
        key = (self._dims(dims), self._reduction(reduction))
        with self._lock:
            idx = self._indexes.get(key)
            if idx is not None:
                return idx
            build_lock = self._build_locks.setdefault(key, threading.Lock())
        with build_lock:
            with self._lock:
                idx = self._indexes.get(key)
            if idx is None:
                idx = self._load_or_build(*key, progress, keep=keep)
                if keep:
                    with self._lock:
                        self._indexes[key] = idx
        return idx

    def _index_name(self, d: int, reduction: ReductionId = PREFIX) -> str:
        return f"indexes/{self.vectors_sha[:40]}-d{d}-{reduction}-{self.params.key}.hnsw"

    def _load_or_build(
        self, d: int, reduction: ReductionId, progress: Progress | None, *, keep: bool = True
    ) -> VectorIndex:
        if (
            self.backend is not None and reduction == PREFIX
        ):  # a backend holds the original vectors; PCA runs here
            return self.backend.build(self, d, progress)
        path = self.store.blob_path(self._index_name(d, reduction))
        if path.exists():
            try:
                idx = HnswIndex.load(path, params=self.params)
                if idx.count == len(self.corpus.chunks) and idx.dim == d:
                    if progress is not None:
                        progress(idx.count, idx.count, 0.0)
                    return idx
            except StoreError as exc:
                log.warning("discarding cached index: %s", exc)
            for p in (path, path.with_name(path.name + ".json")):
                p.unlink(missing_ok=True)
        with self._lock:
            cached = self._truncated.get((d, reduction))
        if cached is not None or keep:
            data = self.vectors_at(d, reduction)
        else:
            data = truncate(self.vectors if reduction == PREFIX else rotate(self.vectors, self.rotation), d)
        idx = HnswIndex.build(data, params=self.params, progress=progress)
        try:
            idx.save(path)
        except StoreError as exc:  # the index works without its disk copy; say so and go on
            log.warning("could not cache the index on disk: %s", exc)
        return idx

    def embed_queries(self, texts: Sequence[str], *, instruction: str | None = None) -> np.ndarray:
        """Full-dim query vectors with the model's query prompt (or ``instruction`` as the task)."""
        texts = [
            clean_text(t)[0] if isinstance(t, str) else t for t in texts
        ]  # lone surrogates break tokenizers
        for t in texts:
            if not isinstance(t, str) or not has_visible_text(t):
                raise SearchError(f"Empty query {t!r}: type a question or keywords to search for.")
        q = np.asarray(self.embedder.encode_queries(texts, instruction=instruction), dtype=np.float32)
        if q.ndim != 2 or q.shape != (len(texts), self.dim):
            raise SearchError(
                f"{self.spec.name} returned query vectors of shape {q.shape}, expected ({len(texts)}, {self.dim}); "
                "was the corpus embedded with a different model?"
            )
        return q

    def search_vectors(
        self, qvecs: np.ndarray, params: SearchParams = SearchParams()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (row indices, cosine scores) for full-dim query vectors at ``params.dims`` (exact or HNSW).

        ``params.reduction`` "pca" rotates the queries as the corpus was rotated, then cuts both to d dims.
        ``params.instruction`` plays no part: the queries are vectors already.
        """
        d, k, r = self._dims(params.dims), params.k, self._reduction(params.reduction)
        full = np.atleast_2d(np.asarray(qvecs, dtype=np.float32))
        q = truncate(full if r == PREFIX else self.rotate(full), d)
        if params.exact:
            return exact_search(self.vectors_at(d, r), q, k)
        if (
            self.backend is not None and r == PREFIX
        ):  # backends take full-dim queries (Qdrant rescores a shortlist)
            return self.index(d).search(q if d == self.dim else truncate(full, self.dim), k=k, ef=params.ef)
        return self.index(d, reduction=r).search(q, k=k, ef=params.ef)

    def _hits(self, idx: np.ndarray, scores: np.ndarray) -> tuple[Hit, ...]:
        chunks = self.corpus.chunks
        return tuple(
            Hit(rank=r + 1, score=float(s), chunk_index=int(i), chunk_id=chunks[int(i)].id)
            for r, (i, s) in enumerate(zip(idx.tolist(), scores.tolist(), strict=True))
        )

    def _run(self, queries: Sequence[str], params: SearchParams) -> _Ran:
        """Embed the queries in one batch, search them, and time both steps."""
        params = replace(params, dims=self._dims(params.dims), reduction=self._reduction(params.reduction))
        t0 = time.perf_counter()
        q = self.embed_queries(queries, instruction=params.instruction)
        t1 = time.perf_counter()
        idx, scores = self.search_vectors(q, params)
        t2 = time.perf_counter()
        return _Ran(
            q, idx, scores, int(params.dims or self.dim), params.exact, (t1 - t0) * 1000.0, (t2 - t1) * 1000.0
        )

    def _result(self, ran: _Ran, i: int, **extra: object) -> SearchResult:
        """Query i's hits; a batch's times are shared out evenly."""
        n = len(ran.idx)
        return SearchResult(
            hits=self._hits(ran.idx[i], ran.scores[i]),
            embed_ms=ran.embed_ms / n,
            search_ms=ran.search_ms / n,
            dims=ran.dims,
            exact=ran.exact,
            extra=dict(extra),
        )

    def search(self, query: str, params: SearchParams = SearchParams()) -> SearchResult:
        """Embed one query and return its hits, with query-embedding and search time measured separately.

        Args:
            query: The text to search for (the model's query prompt or ``params.instruction`` is put before it).
            params: How many hits (``k``), at which dimension (``dims``), exact or HNSW, the HNSW beam (``ef``).

        Returns:
            A SearchResult: the hits (rank, cosine score, chunk index and id), embed_ms and search_ms.
        """
        return self._result(self._run([query], params), 0)

    def answer(self, query: str, params: SearchParams = SearchParams()) -> Answer:
        """``search`` plus what a results page shows beside it: the query vector and each hit's z-score."""
        ran = self._run([query], params)
        z = self.z_scores(ran.qvecs[0], ran.scores[0], dims=ran.dims, reduction=params.reduction)
        return Answer(result=self._result(ran, 0), query_vector=ran.qvecs[0], z_scores=z)

    def z_scores(
        self, qvec: np.ndarray, scores: np.ndarray, *, dims: int | None = None, reduction: str = PREFIX
    ) -> tuple[float, ...]:
        """``scores`` standardised by this query's scores against every chunk at ``dims`` by ``reduction``
        (comparable across models).

        Up to ``Z_EXACT_MAX_CHUNKS`` chunks the query is scored against every chunk. Above it the mean and standard
        deviation of those scores come from the corpus vectors' mean mu and covariance C at these dims (``moments``,
        computed once): mean = q . mu, variance = q' C q. That is the same algebra, not a sample: the figures agree
        to float rounding, and an answer costs d^2 instead of one pass over every chunk's vector.
        """
        d, r = self._dims(dims), self._reduction(reduction)
        q = np.asarray(qvec, dtype=np.float32)
        if r == PCA:
            q = self.rotate(q)
        qd = q if d == self.dim and r == PREFIX else truncate(q, d)
        if len(self.corpus.chunks) <= Z_EXACT_MAX_CHUNKS:
            every = self.vectors_at(d, r) @ qd
            mean, std = float(every.mean()), float(every.std()) or 1.0
        else:
            mu, cov = self.moments(d, r)
            q64 = qd.astype(np.float64)
            mean, var = float(q64 @ mu), float(q64 @ cov @ q64)
            std = math.sqrt(var) if var > 0 else 1.0
        return tuple((s - mean) / std for s in np.asarray(scores, dtype=np.float64).tolist())

    def moments(self, dims: int | None = None, reduction: str = PREFIX) -> tuple[np.ndarray, np.ndarray]:
        """Mean (d,) and population covariance (d, d), float64, of the corpus vectors at ``dims`` by ``reduction``.

        Computed once per (dims, reduction) and kept (read-only): one pass in blocks of centred rows through a
        float32 matrix product accumulated in float64 (n d^2 work, less than building the index at those dims).
        """
        key = (self._dims(dims), self._reduction(reduction))
        with self._lock:
            found = self._moments.get(key)
        if found is not None:
            return found
        x = self.vectors_at(*key)
        n, d = x.shape
        mu = x.mean(axis=0, dtype=np.float64)
        mu32 = mu.astype(np.float32)
        cov = np.zeros((d, d), dtype=np.float64)
        for s in range(0, n, _MOMENT_BLOCK):
            block = x[s : s + _MOMENT_BLOCK] - mu32
            cov += block.T @ block
        cov /= max(n, 1)
        for a in (mu, cov):
            a.setflags(write=False)
        with self._lock:
            return self._moments.setdefault(key, (mu, cov))

    def search_many(
        self, queries: Sequence[str], params: SearchParams = SearchParams()
    ) -> list[SearchResult]:
        """Like ``search`` for many queries, embedded in one batch (times are per-query averages)."""
        queries = list(queries)
        if not queries:
            return []
        ran = self._run(queries, params)
        return [self._result(ran, i, batch_size=len(queries)) for i in range(len(queries))]


def build_model_index(
    corpus: Corpus,
    embedder: Embedder,
    *,
    store: EmbeddingStore,
    params: IndexParams = IndexParams(),
    progress: Progress | None = None,
    index_progress: Progress | None = None,
    batch_size: int = 32,
    backend: IndexBackend | None = None,
) -> ModelIndex:
    """Embed a corpus through the store (only unseen texts reach the model) and build its full-dim index.

    Args:
        corpus: The chunks to embed (``core.ingest.load_corpus``).
        embedder: A loaded model (``core.models.load_embedder``).
        store: The on-disk embedding store; texts it already holds for this model are not embedded again.
        params: HNSW parameters (M, ef_construction, ef_search).
        progress: Called as ``progress(done, total, rate)`` while chunks are embedded.
        index_progress: The same while the index is built.
        batch_size: Texts per model call.
        backend: None builds an in-process hnswlib index; a Qdrant backend uploads the vectors instead.

    Returns:
        The ModelIndex to search (any dimension, exact or HNSW); its ``stats`` say what the build cost (index
        seconds include, above ``Z_EXACT_MAX_CHUNKS`` chunks, the full-dimension moments the z-scores use).

    Raises:
        IngestError: the corpus has no chunks.
    """
    if not corpus.chunks:
        raise IngestError(
            f"Corpus {corpus.name or '(unnamed)'} has no chunks to embed: every file was skipped or empty. "
            "Check the per-file status for the reason."
        )
    calls0 = embedder.calls
    t0 = time.perf_counter()
    vectors, embedded = store.embed(
        embedder, [c.embed_text for c in corpus.chunks], progress=progress, batch_size=batch_size
    )
    embed_seconds = time.perf_counter() - t0
    mi = ModelIndex(
        embedder=embedder, corpus=corpus, vectors=vectors, store=store, params=params, backend=backend
    )
    t1 = time.perf_counter()
    idx = mi.index(progress=index_progress)
    if len(corpus.chunks) > Z_EXACT_MAX_CHUNKS:  # the z-scores' moments now, not on the first answer
        mi.moments()
    mi.stats = BuildStats(
        model=embedder.spec.name,
        chunks=len(corpus.chunks),
        embedded=embedded,
        model_calls=embedder.calls - calls0,
        embed_seconds=embed_seconds,
        index_seconds=time.perf_counter() - t1,
        dims=mi.dim,
        index_bytes=idx.nbytes,
    )
    return mi
