"""Qdrant as an index backend: one collection per corpus, one named vector per model (cosine, full dim).

Layout: the collection ``rc-<corpus sha256[:16]>`` holds one point per chunk (point id = chunk index) with the
payload ``chunk_id, source, location, language, corpus`` and one named vector per model, named after the
model and its store cache key; Matryoshka dims are extra named vectors ``<name>@d<dims>``. A search at d dims
below full prefetches a shortlist with the d-dim vector and rescores it with the full one (``query_points``
with ``prefetch``, Qdrant's Matryoshka recipe). Uploads go in batches with progress and resume: a point that
already has a vector is not sent again (the vector name carries the cache key, so "has it" means "same model,
same settings"). ``QdrantClient(path=...)`` is local mode, the same client calls as a server (``url=...``).

The API key is read from ``QDRANT_API_KEY`` when a client connects and is kept nowhere else.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from core.errors import SearchError
from core.search.index import truncate
from core.types import Corpus, Progress

if TYPE_CHECKING:
    from qdrant_client import QdrantClient, models

API_KEY_ENV = "QDRANT_API_KEY"
RESCORE_MULTIPLIER = 4  # shortlist = this x k (at least ef) at the low dimension, rescored at full
_SCROLL = 1024
MAX_COLLECTION_NAME = 255  # Qdrant's limit (server and local mode)
_BAD_NAME_CHARS = '<>:"/\\|?*\x00\x1f'  # what Qdrant refuses in a collection name (server and local mode)
_clients: dict[str, QdrantClient] = {}
_clients_lock = threading.Lock()
_local_locks: dict[str, threading.Lock] = {}  # local mode: one call at a time per folder, across sessions


class QdrantError(SearchError):
    """Qdrant could not be reached, or a collection does not fit what was asked of it."""


@dataclass(frozen=True)
class QdrantTarget:
    """Where the vectors go: a server or cluster by ``url`` or local mode by ``path`` (exactly one)."""

    url: str = ""
    path: str = ""
    collection: str = ""  # "" = one collection per corpus, named from its sha256
    mrl_dims: tuple[int, ...] = ()  # low dims uploaded at build time (others on first use)
    batch_size: int = 256

    def __post_init__(self) -> None:
        if bool(self.url) == bool(self.path):
            raise QdrantError("Give Qdrant either a URL (--qdrant-url http://host:6333) or a local folder "
                              "(--qdrant-path DIR), not both and not neither.")  # fmt: skip
        if self.batch_size < 1:
            raise QdrantError(f"Qdrant upload batch size must be at least 1, got {self.batch_size}")
        if self.collection:
            check_collection_name(self.collection, field="Qdrant collection")

    @property
    def where(self) -> str:
        """The server URL or local folder (never a key)."""
        return self.url or f"local folder {self.path}"

    @property
    def key(self) -> str:
        """Identity of the target for registries (no key in it)."""
        return (
            f"qdrant:{self.url or 'path=' + self.path}:{self.collection}:{','.join(map(str, self.mrl_dims))}"
        )


def check_collection_name(name: str, *, field: str = "Qdrant collection") -> str:
    """``name`` when Qdrant accepts it as a collection name; otherwise a QdrantError that starts with ``field``
    (the flag or form field that gave it; "" for none) and says what is wrong and what a name may hold.

    Qdrant's rule (server and local mode): 1 to 255 characters, none of ``< > : " / \\ | ? *`` nor the control
    characters 0x00 and 0x1f, not "." or "..". Also refused: text that is not valid UTF-8 (a lone surrogate,
    as a command line with undecodable bytes gives), which no request can carry.
    """
    if not isinstance(name, str):
        problem = f"is a {type(name).__name__}, not text"
    elif name in ("", ".", ".."):
        problem = "is empty" if not name else f"is {name!r}"
    elif any(c in _BAD_NAME_CHARS for c in name):
        problem = "contains " + " ".join(repr(c) for c in sorted({c for c in name if c in _BAD_NAME_CHARS}))
    elif len(name) > MAX_COLLECTION_NAME:
        problem = f"is {len(name):,} characters long"
    else:
        try:
            name.encode("utf-8")
            return name
        except UnicodeEncodeError:
            problem = "is not valid UTF-8 text"
    shown = repr(name if not isinstance(name, str) or len(name) <= 80 else name[:80] + "…")
    prefix = f"{field}: " if field else ""
    raise QdrantError(
        f"{prefix}{shown} cannot be a Qdrant collection name: it {problem}. A name is 1 to "
        f'{MAX_COLLECTION_NAME} characters without < > : " / \\ | ? * or control characters; give the name '
        "exactly as Qdrant lists it (GET /collections), e.g. docs or docs_v2."
    )


@contextlib.contextmanager
def guarded(target: QdrantTarget, collection: str, what: str, fix: str = "") -> Iterator[None]:
    """Qdrant calls inside: any client error (a server's 4xx/5xx, a dropped connection, local mode's ValueError)
    becomes a QdrantError naming the collection, where it is, what was being done and ``fix``."""
    try:
        yield
    except QdrantError:
        raise
    except Exception as exc:
        reason = _scrub(f"{type(exc).__name__}: {exc}")[:300]
        raise QdrantError(
            f"Qdrant could not {what} collection {collection!r} at {target.where} ({reason}); "
            + (
                fix
                or "check that the collection exists and that nothing deletes or recreates it meanwhile, "
                "then try again."
            )
        ) from None


def _models() -> ModuleType:
    """qdrant_client.models, imported on first use: the package takes seconds to import (a CLI on hnswlib
    or an app page that never uses Qdrant should not pay for it)."""
    from qdrant_client import models

    return models


def _ident(target: QdrantTarget) -> str:
    return target.url or "path:" + str(os.path.abspath(target.path))


def call_lock(target: QdrantTarget) -> AbstractContextManager:
    """What serialises calls to the target: a lock per local folder (its files are this process's), none for a
    server (the HTTP client is thread-safe and the server handles concurrency)."""
    if target.url:
        return contextlib.nullcontext()
    with _clients_lock:
        return _local_locks.setdefault(_ident(target), threading.Lock())


def connect(target: QdrantTarget) -> QdrantClient:
    """A client for the target (one per URL or folder per process: local mode locks its folder); checked alive."""
    ident = _ident(target)
    with _clients_lock:
        client = _clients.get(ident)
        if client is not None:
            return client
        from qdrant_client import QdrantClient

        try:
            if target.url:
                # check_compatibility=False: the client's own version probe logged "Failed to obtain server
                # version" for every unreachable URL before the call below could say what is wrong, and how
                client = QdrantClient(
                    url=target.url,
                    api_key=os.environ.get(API_KEY_ENV) or None,
                    timeout=30,
                    check_compatibility=False,
                )
            else:
                os.makedirs(target.path, exist_ok=True)
                client = QdrantClient(path=target.path)
            client.get_collections()
        except Exception as exc:  # connection refused, DNS, TLS, 401, a locked local folder: say which
            raise QdrantError(_unreachable(target, exc)) from None
        _clients[ident] = client
        return client


def is_open(target: QdrantTarget) -> bool:
    """True when this process already holds a client for the target (a local folder is then locked by us)."""
    with _clients_lock:
        return _ident(target) in _clients


def close(target: QdrantTarget | None = None) -> None:
    """Close the client of ``target`` (every client when None): a local folder is unlocked for other processes.

    Runs at interpreter exit too, so a local-mode client is not left to ``QdrantClient.__del__`` while the
    interpreter tears its modules down (which prints "Exception ignored in QdrantClient.__del__").
    """
    with _clients_lock:
        idents = [_ident(target)] if target is not None else list(_clients)
        clients = [c for c in (_clients.pop(i, None) for i in idents) if c is not None]
    for client in clients:
        with contextlib.suppress(Exception):  # a client whose folder or connection is already gone
            client.close()


atexit.register(close)


def _unreachable(target: QdrantTarget, exc: Exception) -> str:
    reason = _scrub(f"{type(exc).__name__}: {exc}")[:300]
    if target.url:
        return (f"Qdrant at {target.url} is unreachable ({reason}). Start it (docker run -p 6333:6333 "
                f"qdrant/qdrant), check the URL, and set {API_KEY_ENV} if the server needs a key.")  # fmt: skip
    return (f"Qdrant local mode could not open {target.path} ({reason}); another process may hold the folder: "
            "close it or use another folder.")  # fmt: skip


def _scrub(text: str) -> str:
    key = os.environ.get(API_KEY_ENV)
    return text.replace(key, "***") if key else text


def collection_name(corpus: Corpus) -> str:
    """The default collection of a corpus: ``rc-`` + the first 16 hex digits of its sha256."""
    return f"rc-{corpus.sha256[:16]}"


def vector_name(model_name: str, cache_key: str) -> str:
    """Named vector of one model: a readable slug plus a hash of its store cache key (same key = same vectors)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-")[:40] or "model"
    return f"{slug}-{hashlib.sha256(cache_key.encode()).hexdigest()[:10]}"


def dims_name(name: str, dims: int) -> str:
    """Named vector of a Matryoshka truncation of ``name``."""
    return f"{name}@d{dims}"


def _payload(corpus: Corpus, i: int) -> dict[str, object]:
    c = corpus.chunks[i]
    return {"chunk_id": c.id, "source": c.source, "location": c.location, "language": c.lang,
            "text": c.text, "corpus": corpus.sha256}  # fmt: skip


class QdrantCollection:
    """One corpus's collection on one target: create, check it holds this corpus, upload, search."""

    def __init__(self, target: QdrantTarget, corpus: Corpus) -> None:
        self.target, self.corpus = target, corpus
        self.name = target.collection or collection_name(corpus)
        connect(target)  # unreachable or locked: said here, before any work
        self._lock = call_lock(target)

    @property
    def client(self) -> QdrantClient:
        """The target's client (opened again after a ``close``)."""
        return connect(self.target)

    def __repr__(self) -> str:
        return f"QdrantCollection({self.name!r} at {self.target.where})"

    def vector_sizes(self) -> dict[str, int]:
        """Named vectors of the collection and their sizes ({} when it does not exist)."""
        with self._lock, guarded(self.target, self.name, "read the configuration of"):
            if not self.client.collection_exists(self.name):
                return {}
            vectors = self.client.get_collection(self.name).config.params.vectors
        if isinstance(vectors, dict):
            return {n: int(p.size) for n, p in vectors.items()}
        return {"": int(vectors.size)} if vectors is not None else {}

    def ensure_vector(self, name: str, dim: int) -> None:
        """Create the collection or add the named vector (cosine); refuse another corpus or another size."""
        qm = _models()
        sizes = self.vector_sizes()
        config = qm.VectorParams(size=dim, distance=qm.Distance.COSINE)
        with self._lock, guarded(self.target, self.name, "create"):
            if not sizes and not self.client.collection_exists(self.name):
                self.client.create_collection(self.name, vectors_config={name: config})
                return
        self.check_corpus()
        if name in sizes:
            if sizes[name] != dim:
                raise QdrantError(f"Collection {self.name!r} has vector {name!r} at {sizes[name]} dims, not {dim}; "
                                  "delete the collection or name another one.")  # fmt: skip
            return
        dense = qm.DenseVectorNameConfig(dense=qm.DenseVectorConfig(size=dim, distance=qm.Distance.COSINE))
        try:
            with self._lock:
                self.client.create_vector_name(self.name, name, dense)
        except Exception as exc:  # servers before 1.18 cannot add a named vector to an existing collection
            raise QdrantError(
                f"Could not add vector {name!r} to collection {self.name!r} at {self.target.where} "
                f"({_scrub(str(exc))[:200]}). Adding a model to an existing collection needs Qdrant 1.18 or "
                "newer; or give this model its own collection (--qdrant-collection NAME)."
            ) from None

    def check_corpus(self) -> None:
        """Refuse a collection whose points are another corpus's (more points, or another sha256 in them)."""
        with self._lock, guarded(self.target, self.name, "read the points of"):
            count = self.client.count(self.name, exact=True).count
            probe = self.client.scroll(self.name, limit=3, with_payload=["corpus", "chunk_id"])[0]
        n = len(self.corpus.chunks)
        others = [p for p in probe if (p.payload or {}).get("corpus") != self.corpus.sha256]
        if count > n or others:
            theirs = (
                (others[0].payload or {}).get("corpus", "no corpus field") if others else f"{count} points"
            )
            raise QdrantError(
                f"Collection {self.name!r} at {self.target.where} holds another corpus ({str(theirs)[:16]}, this "
                f"one is {self.corpus.sha256[:16]} with {n} chunks); name another collection or delete that one."
            )

    def ids_with(self, name: str | None = None) -> set[int]:
        """Point ids present (with the named vector ``name`` when given).

        Every point is checked, not believed: its id must be a chunk index of this corpus and its payload must
        name this corpus (``check_corpus`` probes only the first points), so a collection that another corpus
        or a person filled is refused here, before a search could map its ids to the wrong chunks."""
        qm = _models()
        flt = None if name is None else qm.Filter(must=[qm.HasVectorCondition(has_vector=name)])
        n = len(self.corpus.chunks)
        out: set[int] = set()
        offset = None
        while True:
            with self._lock, guarded(self.target, self.name, "list the points of"):
                points, offset = self.client.scroll(
                    self.name, scroll_filter=flt, limit=_SCROLL, offset=offset, with_payload=["corpus"],
                    with_vectors=False,
                )  # fmt: skip
            for p in points:
                theirs = (p.payload or {}).get("corpus")
                if (
                    not isinstance(p.id, int)
                    or isinstance(p.id, bool)
                    or not 0 <= p.id < n
                    or theirs != self.corpus.sha256
                ):
                    raise QdrantError(
                        f"Collection {self.name!r} at {self.target.where} holds point {p.id!r} (corpus "
                        f"{str(theirs or 'not named')[:16]}), which is not one of the {n} chunks of this corpus "
                        f"({self.corpus.sha256[:16]}): it holds another corpus, or someone else writes to it; name "
                        "another collection or delete that one."
                    )
                out.add(p.id)
            if offset is None:
                return out

    def vector_count(self, name: str) -> int:
        """Points that hold the named vector ``name``, counted exactly by Qdrant."""
        qm = _models()
        flt = qm.Filter(must=[qm.HasVectorCondition(has_vector=name)])
        with self._lock, guarded(self.target, self.name, "count the points of"):
            return int(self.client.count(self.name, count_filter=flt, exact=True).count)

    def upload(self, vectors: dict[str, np.ndarray], *, progress: Progress | None = None) -> int:
        """Send every named vector (rows = chunk index) that a point lacks; return how many points were sent."""
        qm = _models()
        n = len(self.corpus.chunks)
        for name, v in vectors.items():
            if v.shape[0] != n:
                raise QdrantError(f"{name}: {v.shape[0]} vectors for {n} chunks")
            self.ensure_vector(name, int(v.shape[1]))
        present = self.ids_with()
        lacking = {name: set(range(n)) - self.ids_with(name) for name in vectors}
        todo = sorted(set().union(*lacking.values())) if lacking else []
        t0, sent = time.perf_counter(), 0
        step = self.target.batch_size
        if progress is not None:
            progress(n - len(todo), n, 0.0)
        for s in range(0, len(todo), step):
            batch = todo[s : s + step]
            new = [i for i in batch if i not in present]
            old = [i for i in batch if i in present]
            with self._lock, guarded(self.target, self.name, "upload points to"):
                if new:
                    self.client.upsert(self.name, wait=True, points=[
                        qm.PointStruct(id=i, vector={m: v[i].tolist() for m, v in vectors.items()},
                                           payload=_payload(self.corpus, i)) for i in new])  # fmt: skip
                if old:
                    self.client.update_vectors(self.name, wait=True, points=[
                        qm.PointVectors(id=i, vector={m: vectors[m][i].tolist() for m in vectors
                                                          if i in lacking[m]}) for i in old])  # fmt: skip
            sent += len(batch)
            if progress is not None:
                elapsed = time.perf_counter() - t0
                progress(n - len(todo) + sent, n, sent / elapsed if elapsed > 0 else 0.0)
        for name in vectors:  # what the collection holds now, not what the upload believes it sent
            held = self.vector_count(name)
            if held != n:
                raise QdrantError(
                    f"After the upload collection {self.name!r} at {self.target.where} holds {held:,} points with "
                    f"vector {name!r}, not {n:,} (one per chunk): something else deleted or added points meanwhile. "
                    "Build again when nothing else writes to it, or name a collection of its own (--qdrant-collection)."
                )
        return sent

    def query(
        self,
        queries: np.ndarray,
        *,
        using: str,
        k: int,
        shortlist: tuple[str, int, np.ndarray] | None = None,
        ef: int | None = None,
    ) -> list[list[models.ScoredPoint]]:
        """One ``query_batch_points`` call: ``using`` ranks; ``shortlist`` = (low-dim name, limit, its queries)."""
        qm = _models()
        # local mode searches exactly (it warns that hnsw_ef has no effect): the parameter is for servers
        params = qm.SearchParams(hnsw_ef=ef) if ef is not None and self.target.url else None
        requests = []
        for r, q in enumerate(queries):
            prefetch = None
            if shortlist is not None:
                low, limit, low_q = shortlist
                prefetch = qm.Prefetch(query=low_q[r].tolist(), using=low, limit=limit, params=params)
            requests.append(qm.QueryRequest(query=q.tolist(), using=using, limit=k, prefetch=prefetch,
                                                params=params, with_payload=False))  # fmt: skip
        try:
            with self._lock:
                answers = self.client.query_batch_points(self.name, requests=requests)
        except Exception as exc:
            raise QdrantError(f"Qdrant search in {self.name!r} at {self.target.where} failed: "
                              f"{_scrub(str(exc))[:300]}") from None  # fmt: skip
        if len(answers) != len(requests):
            raise QdrantError(f"Qdrant answered {len(answers)} of {len(requests)} searches in {self.name!r} at "
                              f"{self.target.where}; try again.")  # fmt: skip
        return [a.points for a in answers]


class QdrantView:
    """A model's collection at d dims, searched like an HnswIndex but with full-dim query vectors.

    Below full dimension: a shortlist of ``RESCORE_MULTIPLIER x k`` (at least ``ef``) by the d-dim vector,
    rescored by the full one, so the scores are full-dimension cosines.
    """

    def __init__(self, coll: QdrantCollection, *, name: str, full_dim: int, dim: int, count: int) -> None:
        self.coll, self.name, self.full_dim, self.dim, self.count = coll, name, full_dim, dim, count

    def __repr__(self) -> str:
        return f"QdrantView({self.coll.name!r}, {self.name!r}, dim={self.dim}, count={self.count})"

    @property
    def nbytes(self) -> int:
        """Bytes of this view's float32 vectors in Qdrant (the HNSW graph and payload come on top)."""
        return self.count * self.dim * 4

    def search(self, queries: np.ndarray, *, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (row indices int64, scores float32) for full-dim unit query vectors."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if q.shape[1] != self.full_dim:
            raise SearchError(f"queries have {q.shape[1]} dims but {self.name} has {self.full_dim}")
        k = min(int(k), self.count)
        shortlist = None
        if self.dim < self.full_dim:
            limit = min(self.count, max(RESCORE_MULTIPLIER * k, ef or 0))
            shortlist = (dims_name(self.name, self.dim), limit, truncate(q, self.dim))
        answers = self.coll.query(q, using=self.name, k=k, shortlist=shortlist, ef=ef)
        count = self.count

        def row(pid: object) -> int | None:
            return pid if isinstance(pid, int) and not isinstance(pid, bool) and 0 <= pid < count else None

        fix = "the collection changed since the index was built: build it again"
        return _matrices(
            answers, k, row, where=f"collection {self.coll.name!r} at {self.coll.target.where}", fix=fix
        )


def _matrices(
    answers: Sequence[Sequence[models.ScoredPoint]],
    k: int,
    row: Callable[[object], int | None],
    *,
    where: str,
    fix: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Pad each answer to k with -1 / -inf (as hnswlib pads), as (n, k) int64 rows and float32 scores.

    ``row`` maps a point id to its corpus row (None: not a point of this corpus). A point the corpus does not
    hold, a point twice in one answer or a score that is not a finite number is refused, naming ``where``
    and ``fix``: the server's answer is checked, not believed."""
    idx = np.full((len(answers), k), -1, dtype=np.int64)
    scores = np.full((len(answers), k), -np.inf, dtype=np.float32)
    for r, points in enumerate(answers):
        seen: set[int] = set()
        for c, p in enumerate(points[:k]):
            i = row(p.id)
            if i is None or i in seen:
                what = "twice in one answer" if i is not None else "which is not a passage of this corpus"
                raise QdrantError(f"Qdrant returned point {p.id!r} of {where}, {what}; {fix}.")
            score = p.score
            if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
                raise QdrantError(
                    f"Qdrant returned the score {score!r} for point {p.id!r} of {where}; {fix}."
                )
            seen.add(i)
            idx[r, c], scores[r, c] = i, score
    return idx, scores


class QdrantBackend:
    """The ``core.search.engine`` index backend for one model on one target: upload at build, views per dims."""

    kind = "qdrant"

    def __init__(self, target: QdrantTarget) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"QdrantBackend({self.target.where})"

    def build(self, mi, d: int, progress: Progress | None) -> QdrantView:
        """Make sure the collection has this model's full vector (and the d-dim one); upload what is missing."""
        coll = QdrantCollection(self.target, mi.corpus)
        name = vector_name(mi.spec.name, mi.embedder.cache_key)
        wanted: dict[str, np.ndarray] = {name: mi.vectors}
        if d < mi.dim:
            wanted[dims_name(name, d)] = mi.vectors_at(d)
        elif d == mi.dim:  # the first build also sends the chosen Matryoshka dims
            for low in self.target.mrl_dims:
                if 0 < low < mi.dim:
                    wanted[dims_name(name, low)] = mi.vectors_at(low)
        coll.upload(wanted, progress=progress)
        return QdrantView(coll, name=name, full_dim=mi.dim, dim=d, count=len(mi.corpus.chunks))
