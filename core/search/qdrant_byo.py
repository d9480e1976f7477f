"""Bring your own Qdrant collection: an existing collection (named vector + payload text) as a model's index.

The corpus is the collection's points (text from a payload field, chunk id from a payload field or the point
id); queries are embedded with the model the user names, refused when its dimension differs from the
collection's vector. Search runs in Qdrant; the vectors are also read once (scroll) so that exact search,
z-scores and the Dimensions page work as for any model. Nothing is re-embedded on the production side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core.ingest import corpus_sha256
from core.search.engine import ModelIndex
from core.search.index import truncate
from core.search.qdrant import QdrantError, QdrantTarget, _matrices, _models, call_lock, connect
from core.store import EmbeddingStore
from core.types import BuildStats, Chunk, Corpus, Embedder, Progress

_SCROLL = 512  # points per scroll call from a server
_SCROLL_LOCAL = 8192  # local mode sorts every point id on each scroll call: few large pages


@dataclass(frozen=True)
class ByoCollection:
    """Which existing collection, which named vector ("" = the unnamed default) and which payload fields."""

    target: QdrantTarget
    collection: str
    vector: str = ""
    text_field: str = "text"
    id_field: str = "chunk_id"  # payload field naming the chunk; missing = the point id
    source_field: str = "source"

    @property
    def key(self) -> str:
        """Identity for the app's index registry: where, which collection, vector and fields (never a key)."""
        return f"byo:{self.target.key}:{self.collection}:{self.vector}:{self.text_field}:{self.id_field}"

    @property
    def vector_label(self) -> str:
        """The vector as a user names it: its name, or '(unnamed)' for the collection's default vector."""
        return repr(self.vector) if self.vector else "(unnamed)"


def vector_size(byo: ByoCollection) -> int:
    """The collection's dimension for ``byo.vector``; refuses a missing collection or vector, or non-cosine."""
    client = connect(byo.target)
    with call_lock(byo.target):
        exists = client.collection_exists(byo.collection)
        names = ", ".join(c.name for c in client.get_collections().collections)[:300] or "none"
        vectors = client.get_collection(byo.collection).config.params.vectors if exists else None
    if not exists:
        raise QdrantError(f"No collection {byo.collection!r} at {byo.target.where} (there: {names}); check the "
                          "collection name.")  # fmt: skip
    table = vectors if isinstance(vectors, dict) else {"": vectors}
    params = table.get(byo.vector)
    if params is None:
        have = ", ".join(repr(n) if n else "(unnamed)" for n in table) or "none"
        raise QdrantError(f"Collection {byo.collection!r} has no vector named {byo.vector_label} (it has {have}); "
                          "name one of those in the named-vector field ('' = unnamed).")  # fmt: skip
    if params.distance != _models().Distance.COSINE:
        raise QdrantError(f"Vector {byo.vector!r} of {byo.collection!r} uses {params.distance} distance; the "
                          "comparison needs cosine vectors.")  # fmt: skip
    return int(params.size)


def read_collection(byo: ByoCollection, *, progress: Progress | None = None) -> tuple[Corpus, np.ndarray, list]:
    """The collection as a corpus, its unit vectors (rows in corpus order) and the point id of each row."""
    client = connect(byo.target)
    with call_lock(byo.target):
        total = client.count(byo.collection, exact=True).count
    chunks: list[Chunk] = []
    rows: list = []  # vectors as the client returns them (lists of floats), one array at the end
    ids: list = []
    fields = [byo.text_field, byo.id_field, byo.source_field, "language"]  # language: when the payload has it
    offset, t0 = None, time.perf_counter()
    page = _SCROLL if byo.target.url else _SCROLL_LOCAL
    while True:
        with call_lock(byo.target):
            points, offset = client.scroll(byo.collection, limit=page, offset=offset, with_payload=fields,
                                           with_vectors=[byo.vector] if byo.vector else True)  # fmt: skip
        for p in points:
            payload = p.payload or {}
            text = payload.get(byo.text_field)
            if not isinstance(text, str) or not text.strip():
                have = _payload_fields(byo, p.id)
                raise QdrantError(f"Point {p.id} of {byo.collection!r} has no text in payload field "
                                  f"{byo.text_field!r} (its payload fields: {have}); name the field that holds "
                                  "the passage text.")  # fmt: skip
            vec = p.vector.get(byo.vector) if isinstance(p.vector, dict) else p.vector
            if vec is None:
                raise QdrantError(f"Point {p.id} of {byo.collection!r} has no vector {byo.vector!r}.")
            cid = str(payload.get(byo.id_field) or p.id)
            lang = payload.get("language")
            chunks.append(Chunk(id=cid, source=str(payload.get(byo.source_field) or byo.collection), text=text,
                                lang=lang if isinstance(lang, str) and lang else "unknown"))  # fmt: skip
            rows.append(vec)
            ids.append(p.id)
        if progress is not None:
            elapsed = time.perf_counter() - t0
            progress(len(ids), total, len(ids) / elapsed if elapsed > 0 else 0.0)
        if offset is None:
            break
    if not chunks:
        raise QdrantError(f"Collection {byo.collection!r} at {byo.target.where} holds no points.")
    seen: set[str] = set()
    for c in chunks:
        if c.id in seen:
            raise QdrantError(f"Chunk id {c.id!r} occurs twice in payload field {byo.id_field!r} of "
                              f"{byo.collection!r}; name a unique id field.")  # fmt: skip
        seen.add(c.id)
    corpus = Corpus(chunks=tuple(chunks), files=(), sha256=corpus_sha256(tuple(chunks)), name=byo.collection)
    vectors = np.asarray(rows, dtype=np.float32)
    return corpus, truncate(vectors, vectors.shape[1]), ids


def _payload_fields(byo: ByoCollection, point_id) -> str:
    """The payload field names one point has (for the message that asks for the text field)."""
    with call_lock(byo.target):
        found = connect(byo.target).retrieve(byo.collection, [point_id], with_payload=True, with_vectors=False)
    return ", ".join(repr(k) for k in list(found[0].payload or {})[:12]) if found else "none"


class ByoView:
    """The collection's own named vector, searched in Qdrant; point ids mapped back to corpus rows."""

    def __init__(self, byo: ByoCollection, ids: list, dim: int) -> None:
        self.byo, self.dim, self.count = byo, dim, len(ids)
        self._rows = {pid: r for r, pid in enumerate(ids)}

    def __repr__(self) -> str:
        return f"ByoView({self.byo.collection!r}, {self.byo.vector!r}, dim={self.dim}, count={self.count})"

    @property
    def nbytes(self) -> int:
        """Bytes of the collection's float32 vectors (graph and payload on top)."""
        return self.count * self.dim * 4

    def search(self, queries: np.ndarray, *, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = min(int(k), self.count)
        qm = _models()
        # local mode searches exactly (it warns that hnsw_ef has no effect): the parameter is for servers
        params = qm.SearchParams(hnsw_ef=ef) if ef is not None and self.byo.target.url else None
        requests = [qm.QueryRequest(query=v.tolist(), using=self.byo.vector or None, limit=k, params=params,
                                        with_payload=False) for v in q]  # fmt: skip
        try:
            with call_lock(self.byo.target):
                answers = connect(self.byo.target).query_batch_points(self.byo.collection, requests=requests)
        except Exception as exc:
            raise QdrantError(f"Qdrant search in {self.byo.collection!r} failed: {str(exc)[:300]}") from None
        return _matrices([a.points for a in answers], k, lambda pid: self._rows.get(pid, -1))


class ByoBackend:
    """Index backend over an existing collection: full dimension only (its other dims are not ours to add)."""

    kind = "qdrant (own collection)"

    def __init__(self, byo: ByoCollection, ids: list) -> None:
        self.byo, self.ids = byo, ids

    def build(self, mi: ModelIndex, d: int, progress: Progress | None) -> ByoView:
        if d != mi.dim:
            raise QdrantError(
                f"Collection {self.byo.collection!r} holds {mi.dim}-dim vectors only, so it is searched in Qdrant "
                f"at full dimension only: a {d}-dim search would need a new named vector in that collection, "
                f"and this app does not write to a collection it did not create. Choose {mi.dim} dims for this "
                f"model (exact search at {d} dims works on the vectors read from it)."
            )
        if progress is not None:
            progress(len(self.ids), len(self.ids), 0.0)
        return ByoView(self.byo, self.ids, mi.dim)


def byo_model_index(
    byo: ByoCollection, embedder: Embedder, *, store: EmbeddingStore, progress: Progress | None = None
) -> ModelIndex:
    """A ModelIndex over an existing collection, queried with ``embedder``; refused on a dimension mismatch."""
    size = vector_size(byo)
    dim = embedder.spec.dim or int(np.asarray(embedder.encode_queries(["dimension check"])).shape[1])
    if dim != size:
        raise QdrantError(
            f"{embedder.spec.name} embeds queries as {dim}-dim vectors but vector {byo.vector_label} of "
            f"collection {byo.collection!r} has {size} dims: name the model that embedded the collection."
        )
    t0 = time.perf_counter()
    corpus, vectors, ids = read_collection(byo, progress=progress)
    mi = ModelIndex(embedder=embedder, corpus=corpus, vectors=vectors, store=store, backend=ByoBackend(byo, ids))
    mi.stats = BuildStats(model=embedder.spec.name, chunks=len(ids), embedded=0, model_calls=0, embed_seconds=0.0,
                          index_seconds=time.perf_counter() - t0, dims=dim, index_bytes=len(ids) * dim * 4)  # fmt: skip
    return mi
