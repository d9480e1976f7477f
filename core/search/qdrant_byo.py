"""Bring your own Qdrant collection: an existing collection (named vector + payload text) as a model's index.

The corpus is the collection's points (text from a payload field, chunk id from a payload field or the point
id); queries are embedded with the model the user names, refused when its dimension differs from the
collection's vector. Search runs in Qdrant; the vectors are also read once (scroll) so that exact search,
z-scores and the Dimensions page work as for any model. Nothing is re-embedded on the production side.

Nothing the collection says is believed (``read_collection``): each row's length, the count, the ids and a
sample of points are checked after the scroll (a collection that changed while it was read is refused), and
zero or non-finite vectors are left out, said in the corpus's file status and never returned by a search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core.ingest import corpus_sha256
from core.search.engine import ModelIndex
from core.search.index import truncate
from core.search.qdrant import (
    QdrantError,
    QdrantTarget,
    _matrices,
    _models,
    call_lock,
    check_collection_name,
    connect,
    guarded,
)
from core.store import EmbeddingStore
from core.text import clean_text, cleaned_note
from core.types import BuildStats, Chunk, Corpus, Embedder, FileStatus, Progress

_SCROLL = 512  # points per scroll call from a server
_SCROLL_LOCAL = 8192  # local mode sorts every point id on each scroll call: few large pages
_RETRIEVE = 256  # points per retrieve call when re-reading the sample
MIN_NORM = 1e-6  # a vector shorter than this has no direction: a cosine search scores it 0 against everything
_CHANGED_FIX = ("read it again when nothing writes to it (or read a collection that stays fixed while it is "
                "read: a copy, a snapshot restored under another name, or an alias to a finished build).")  # fmt: skip


@dataclass(frozen=True)
class ByoCollection:
    """Which existing collection, which named vector ("" = the unnamed default) and which payload fields."""

    target: QdrantTarget
    collection: str
    vector: str = ""
    text_field: str = "text"
    id_field: str = "chunk_id"  # payload field naming the chunk; missing = the point id
    source_field: str = "source"

    def __post_init__(self) -> None:
        check_collection_name(self.collection, field="Collection")

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
    with call_lock(byo.target), guarded(byo.target, byo.collection, "read the configuration of"):
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
    if getattr(params, "multivector_config", None) is not None:
        raise QdrantError(f"Vector {byo.vector_label} of {byo.collection!r} is a multivector (several vectors per "
                          "point); the comparison needs one dense vector per point: name such a vector.")  # fmt: skip
    size = params.size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise QdrantError(f"Collection {byo.collection!r} at {byo.target.where} declares {size!r} dimensions for "
                          f"vector {byo.vector_label}; a dense vector has at least one: check the collection.")  # fmt: skip
    return size


def read_collection(
    byo: ByoCollection, *, progress: Progress | None = None, dim: int | None = None
) -> tuple[Corpus, np.ndarray, list, list]:
    """The collection as a corpus, its unit vectors (rows in corpus order), the point id of each row and the
    ids of the points left out (zero or non-finite vectors).

    Nothing the collection says is believed: every vector must have the ``dim`` (default: the collection's
    declared size) numbers; after the scroll the count, the point ids, the declared size and a sample of
    points (first, middle and last of every page, vectors and texts) are read again, and a collection that
    changed while it was read is refused (a scroll is not a snapshot: pages read before and after a rewrite
    would mix two versions). Points whose vector is zero or not finite are left out and reported in the
    corpus's file status (a cosine search scores them 0 against every query); texts are cleaned of code
    points tokenizers reject (``core.text.clean_text``), as every reader cleans them.
    """
    size = vector_size(byo) if dim is None else dim
    client = connect(byo.target)
    with call_lock(byo.target), guarded(byo.target, byo.collection, "count the points of"):
        total = client.count(byo.collection, exact=True).count
    raw: list[tuple[object, str, object, object, object]] = []  # (point id, text, chunk id, source, language)
    rows: list = []  # vectors as the client returns them (lists of floats), one array at the end
    sample: list[int] = []  # rows read again after the scroll: first, middle and last of every page
    fields = [byo.text_field, byo.id_field, byo.source_field, "language"]  # language: when the payload has it
    offset, t0 = None, time.perf_counter()
    page = _SCROLL if byo.target.url else _SCROLL_LOCAL
    while True:
        what, fix = (
            f"read (after {len(rows):,} points)",
            "if it was deleted or recreated meanwhile, " + _CHANGED_FIX,
        )
        with call_lock(byo.target), guarded(byo.target, byo.collection, what, fix=fix):
            points, offset = client.scroll(byo.collection, limit=page, offset=offset, with_payload=fields,
                                           with_vectors=[byo.vector] if byo.vector else True)  # fmt: skip
        first = len(rows)
        for p in points:
            payload = p.payload or {}
            text = payload.get(byo.text_field)
            if not isinstance(text, str) or not text.strip():
                have = _payload_fields(byo, p.id)
                raise QdrantError(f"Point {p.id} of {byo.collection!r} has no text in payload field "
                                  f"{byo.text_field!r} (its payload fields: {have}); name the field that holds "
                                  "the passage text.")  # fmt: skip
            vec = _vector_of(p.vector, byo.vector)
            if vec is None:
                raise QdrantError(f"Point {p.id} of {byo.collection!r} has no vector {byo.vector_label}.")
            if not isinstance(vec, list | tuple) or len(vec) != size:
                got = (
                    f"a {len(vec)}-dim vector" if isinstance(vec, list | tuple) else f"a {type(vec).__name__}"
                )
                detail = (f"point {p.id!r} has {got} {byo.vector_label} where the collection declares {size} dims; "
                          "recreated with other dimensions?")  # fmt: skip
                raise QdrantError(_changed(byo, detail))
            cid, source, lang = (payload.get(f) for f in (byo.id_field, byo.source_field, "language"))
            raw.append((p.id, text, cid, source, lang))
            rows.append(vec)
        if len(rows) > first:
            sample.extend(sorted({first, (first + len(rows) - 1) // 2, len(rows) - 1}))
        if progress is not None:
            elapsed = time.perf_counter() - t0
            progress(len(rows), total, len(rows) / elapsed if elapsed > 0 else 0.0)
        if offset is None:
            break
    if not rows:
        raise QdrantError(f"Collection {byo.collection!r} at {byo.target.where} holds no points.")
    try:
        matrix = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        matrix = np.empty(0)
    if matrix.shape != (len(rows), size):
        raise QdrantError(f"The vectors {byo.vector_label} of {byo.collection!r} at {byo.target.where} are not "
                          f"lists of {size} numbers each; name a dense float vector.")  # fmt: skip
    ids = [r[0] for r in raw]
    _check_unchanged(byo, size, total, ids, [r[1] for r in raw], matrix, sample)
    norms = np.linalg.norm(np.where(np.isfinite(matrix), matrix, 0.0), axis=1)
    good = np.isfinite(matrix).all(axis=1) & (norms >= MIN_NORM)
    files: list[FileStatus] = []
    bad = [ids[i] for i in np.flatnonzero(~good)]
    if bad:
        if not good.any():
            raise QdrantError(f"Every one of the {len(ids):,} vectors {byo.vector_label} of {byo.collection!r} at "
                              f"{byo.target.where} is zero or not finite, so no search can rank them; re-embed the "
                              "collection, or name the vector that holds its embeddings.")  # fmt: skip
        files.append(FileStatus(
            f"{byo.collection} ({len(bad):,} points)", "skipped",
            f"{len(bad):,} of {len(ids):,} points of collection {byo.collection!r} have a zero or non-finite vector "
            f"{byo.vector_label} (first: {', '.join(repr(b) for b in bad[:5])}); left out of the corpus and of "
            "model B's searches (a cosine search scores such a vector 0 against every query). Re-embed those "
            "points in the collection to include them.",
        ))  # fmt: skip
    chunks: list[Chunk] = []
    kept: list = []
    replaced = 0
    for i in np.flatnonzero(good):
        pid, text, cid_raw, source_raw, lang = raw[i]
        text, n_text = clean_text(text)
        cid, n_id = clean_text(str(cid_raw or pid))
        source, n_src = clean_text(str(source_raw or byo.collection))
        replaced += n_text + n_id + n_src
        chunks.append(Chunk(id=cid, source=source, text=text,
                            lang=lang if isinstance(lang, str) and lang else "unknown"))  # fmt: skip
        kept.append(pid)
    seen: set[str] = set()
    for c in chunks:
        if c.id in seen:
            raise QdrantError(f"Chunk id {c.id!r} occurs twice in payload field {byo.id_field!r} of "
                              f"{byo.collection!r}; name a unique id field.")  # fmt: skip
        seen.add(c.id)
    note = cleaned_note(f"collection {byo.collection!r}", replaced) if replaced else ""
    files.insert(0, FileStatus(byo.collection, "loaded", note, "", 0, len(chunks)))
    corpus = Corpus(chunks=tuple(chunks), files=tuple(files), sha256=corpus_sha256(tuple(chunks)),
                    name=byo.collection)  # fmt: skip
    unit = matrix[good] / norms[good, None]
    return corpus, truncate(unit.astype(np.float32), size), kept, bad


def dropped_points(corpus: Corpus) -> str:
    """The reason of the skipped status ``read_collection`` gives points it left out ("" when none were)."""
    return next((f.reason for f in corpus.files if f.status == "skipped"), "")


def _vector_of(vector: object, name: str) -> object:
    """One point's vector ``name`` ("" = the unnamed one) as the client gave it (None when the point has none)."""
    if isinstance(vector, dict):
        return vector.get(name)
    return vector if not name else None


def _changed(byo: ByoCollection, detail: str) -> str:
    return (f"Collection {byo.collection!r} at {byo.target.where} changed while it was read ({detail}); "
            "points read before and after the change would mix two versions. " + _CHANGED_FIX[0].upper()
            + _CHANGED_FIX[1:])  # fmt: skip


def _check_unchanged(
    byo: ByoCollection,
    size: int,
    total: int,
    ids: list,
    texts: list[str],
    matrix: np.ndarray,
    sample: list[int],
) -> None:
    """Refuse a collection that changed during the scroll: count, ids, declared size and a sample re-read."""
    if len(set(ids)) != len(ids):
        raise QdrantError(_changed(byo, "a point id came twice in the scroll"))
    client = connect(byo.target)
    fix = "if it was deleted or recreated meanwhile, " + _CHANGED_FIX
    with call_lock(byo.target), guarded(byo.target, byo.collection, "count the points of", fix=fix):
        after = client.count(byo.collection, exact=True).count
    if not total == after == len(ids):
        raise QdrantError(
            _changed(byo, f"{total:,} points before the scroll, {len(ids):,} read, {after:,} after")
        )
    now = vector_size(byo)
    if now != size:
        raise QdrantError(_changed(byo, f"vector {byo.vector_label} had {size} dims, now {now}"))
    present: set = set()
    offset = None
    while True:  # the ids only: cheap next to the vectors, and a point deleted and added again shows here
        with call_lock(byo.target), guarded(byo.target, byo.collection, "list the points of"):
            points, offset = client.scroll(byo.collection, limit=4 * _SCROLL_LOCAL, offset=offset,
                                           with_payload=False, with_vectors=False)  # fmt: skip
        present.update(p.id for p in points)
        if offset is None:
            break
    if present != set(ids):
        gone, new = set(ids) - present, present - set(ids)
        what = next(iter(gone), None) if gone else next(iter(new), None)
        raise QdrantError(_changed(byo, f"{len(gone):,} point(s) read are gone and {len(new):,} new ones appeared, "
                                        f"e.g. {what!r}"))  # fmt: skip
    for s in range(
        0, len(sample), _RETRIEVE
    ):  # same ids, new content: a rewrite in place shows in the sample
        picked = sample[s : s + _RETRIEVE]
        with call_lock(byo.target), guarded(byo.target, byo.collection, "read points of"):
            found = client.retrieve(byo.collection, [ids[r] for r in picked], with_payload=[byo.text_field],
                                    with_vectors=[byo.vector] if byo.vector else True)  # fmt: skip
        by_id = {p.id: p for p in found}
        for r in picked:
            p = by_id.get(ids[r])
            vec = _vector_of(p.vector, byo.vector) if p is not None else None
            again = (p.payload or {}).get(byo.text_field) if p is not None else None
            try:
                same = again == texts[r] and np.array_equal(np.asarray(vec, dtype=np.float64), matrix[r],
                                                            equal_nan=True)  # fmt: skip
            except (TypeError, ValueError, OverflowError):
                same = False
            if not same:
                raise QdrantError(
                    _changed(byo, f"point {ids[r]!r} has another vector or text than when it was read")
                )


def _payload_fields(byo: ByoCollection, point_id) -> str:
    """The payload field names one point has (for the message that asks for the text field)."""
    with call_lock(byo.target), guarded(byo.target, byo.collection, "read a point of"):
        found = connect(byo.target).retrieve(
            byo.collection, [point_id], with_payload=True, with_vectors=False
        )
    return ", ".join(repr(k) for k in list(found[0].payload or {})[:12]) if found else "none"


class ByoView:
    """The collection's own named vector, searched in Qdrant; point ids mapped back to corpus rows."""

    def __init__(self, byo: ByoCollection, ids: list, dim: int, dropped: list | None = None) -> None:
        self.byo, self.dim, self.count = byo, dim, len(ids)
        self._rows = {pid: r for r, pid in enumerate(ids)}
        self.dropped = list(
            dropped or []
        )  # points read but left out (zero / non-finite vectors): never returned

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
        flt = qm.Filter(must_not=[qm.HasIdCondition(has_id=self.dropped)]) if self.dropped else None
        requests = [qm.QueryRequest(query=v.tolist(), using=self.byo.vector or None, limit=k, params=params,
                                    filter=flt, with_payload=False) for v in q]  # fmt: skip
        with call_lock(self.byo.target), guarded(self.byo.target, self.byo.collection, "search"):
            answers = connect(self.byo.target).query_batch_points(self.byo.collection, requests=requests)
        if len(answers) != len(requests):
            raise QdrantError(f"Qdrant answered {len(answers)} of {len(requests)} searches in "
                              f"{self.byo.collection!r} at {self.byo.target.where}; try again.")  # fmt: skip
        return _matrices([a.points for a in answers], k, self._rows.get,
                         where=f"collection {self.byo.collection!r} at {self.byo.target.where}",
                         fix="the collection changed since it was read: click Use this collection again "
                             "(CLI: run byo again)")  # fmt: skip


class ByoBackend:
    """Index backend over an existing collection: full dimension only (its other dims are not ours to add)."""

    kind = "qdrant (own collection)"

    def __init__(self, byo: ByoCollection, ids: list, dropped: list | None = None) -> None:
        self.byo, self.ids, self.dropped = byo, ids, list(dropped or [])

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
        return ByoView(self.byo, self.ids, mi.dim, self.dropped)


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
    corpus, vectors, ids, dropped = read_collection(byo, progress=progress, dim=size)
    mi = ModelIndex(embedder=embedder, corpus=corpus, vectors=vectors, store=store,
                    backend=ByoBackend(byo, ids, dropped))  # fmt: skip
    mi.stats = BuildStats(model=embedder.spec.name, chunks=len(ids), embedded=0, model_calls=0, embed_seconds=0.0,
                          index_seconds=time.perf_counter() - t0, dims=dim, index_bytes=len(ids) * dim * 4)  # fmt: skip
    return mi
