"""Content-addressed on-disk embedding store: each text is embedded once per model, ever.

Layout under the root (``RETRIEVAL_COMPARE_STORE`` or the user cache dir ``retrieval-compare``)::

    embeddings/<model-folder>/key.json             the embedder's cache_key
    embeddings/<model-folder>/<segment>.npy        float32 (count, dim), saved with allow_pickle=False
    embeddings/<model-folder>/<segment>.json       text sha256s, dim, count, size and sha256 of the .npy,
                                                   and a sha256 of those fields themselves (meta_sha256)
    blobs/...                                      other cached artifacts (hnswlib indexes)

Segments are immutable and written atomically (temp file + fsync + os.replace), the .json last, so a
segment without its .json does not exist. A segment whose .npy does not match its .json (truncated, edited,
wrong shape or dtype), or whose .json does not match its own checksum (hashes swapped or edited, or a
segment of an older format without one), is deleted and its texts are embedded again. Nothing is ever
unpickled.
"""

from __future__ import annotations

import errno
import hashlib
import io
import itertools
import json
import logging
import mmap
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from core.errors import ModelLoadError, StoreError
from core.types import Embedder, InProcess, Progress

ENV_VAR = "RETRIEVAL_COMPARE_STORE"
SEGMENT_SIZE = 256  # new texts per persisted segment at most
BULK_SEGMENT_BYTES = (
    64 << 20
)  # a segment of ready-made vectors (``EmbeddingStore.put``) holds at most this much
WRITE_BLOCK_BYTES = 8 << 20  # a segment is written (and a put reads its source) this many bytes at a time
FLUSH_SECONDS = (
    5.0  # a segment is also written once this long has passed: a killed process loses seconds of work
)
_ORPHAN_AGE_S = 600.0  # temp files / json-less segments older than this are leftovers of a crash
_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()
SESSION_RECORD = "sessions/last.json"
RECORD_FORMAT = 1
MAX_RECORD_BYTES = 1 << 20
KEPT_CORPORA = 4  # corpora kept for restoring a session (the newest)
MAX_KEPT_CORPUS_BYTES = 256 << 20  # a larger corpus is not kept: a reload then starts empty
_BLOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def default_root() -> Path:
    """The store folder: $RETRIEVAL_COMPARE_STORE, else the per-user cache dir."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("retrieval-compare"))


def text_hash(text: str) -> str:
    """sha256 hex of a text's UTF-8 bytes: the text's address in the store."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _lock_for(path: Path) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path), threading.RLock())


def os_error(exc: OSError, path: Path) -> StoreError:
    """Turn an OSError into a StoreError that names the path and the fix."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why, fix = "the disk is full", "Free some space there"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why, fix = "permission denied (or read-only file system)", "Make that folder writable"
    else:
        why, fix = exc.strerror or str(exc), "Check that folder"
    return StoreError(
        f"Cannot write the embedding store at {path}: {why}. {fix}, or set "
        f"{ENV_VAR} to a writable folder with room (e.g. {ENV_VAR}=/data/retrieval-compare)."
    )


def ensure_writable(folder: Path) -> None:
    """Create ``folder`` and prove a file can be written there, before any expensive work depends on it."""
    atomic_write_bytes(folder / ".write-probe", b"")
    _discard(folder / ".write-probe")


_META_FIELDS = ("count", "dim", "dtype", "nbytes", "sha256", "hashes")
SEGMENT_FORMAT = 2


def meta_checksum(meta: dict) -> str:
    """sha256 over a segment's metadata fields (canonical JSON): edits such as swapped hashes are caught."""
    fields = {k: meta[k] for k in _META_FIELDS}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Create ``path`` atomically: ``write(tmp)`` fills a temp file beside it, then fsync + os.replace."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise os_error(exc, path) from exc
    except BaseException:
        _discard(tmp)
        raise


def _discard(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def file_sha256(path: Path) -> str:
    """sha256 hex of a file's bytes, read in 8 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            h.update(block)
    return h.hexdigest()


@dataclass
class _Segment:
    hashes: list[str]
    vectors: np.ndarray  # read-only memory map, (count, dim) float32


class _Shelf:
    """The validated segments of one model folder, as known to this process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.segments: dict[str, _Segment] = {}
        self.where: dict[str, tuple[str, int]] = {}  # text hash -> (segment name, row)
        self.rejected: set[str] = set()

    def refresh(self) -> None:
        """Load segments written since the last look (possibly by another process); drop corrupt ones."""
        if not self.folder.is_dir():
            self.segments, self.where = {}, {}
            return
        now = time.time()
        entries = sorted(self.folder.iterdir())
        present = {e.name[: -len(".json")] for e in entries if e.name.endswith(".json")}
        if any(name not in present for name in self.segments):  # deleted by clear() elsewhere
            self.segments = {n: s for n, s in self.segments.items() if n in present}
            self.where = {}
            for n, seg in self.segments.items():
                for row, h in enumerate(seg.hashes):
                    self.where.setdefault(h, (n, row))
        for entry in entries:
            name = entry.name
            if name.startswith(".") and name.endswith(".tmp"):
                _remove_if_old(entry, now)
            elif name.endswith(".npy") and not entry.with_suffix(".json").exists():
                _remove_if_old(entry, now)
            elif name.endswith(".json") and name != "key.json":
                seg_name = name[: -len(".json")]
                if seg_name not in self.segments and seg_name not in self.rejected:
                    self._load(seg_name)

    def _load(self, seg_name: str) -> None:
        meta_path = self.folder / f"{seg_name}.json"
        npy_path = self.folder / f"{seg_name}.npy"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            hashes, dim, count = meta["hashes"], int(meta["dim"]), int(meta["count"])
            ok = (
                meta.get("format") == SEGMENT_FORMAT
                and meta.get("meta_sha256") == meta_checksum(meta)
                and isinstance(hashes, list)
                and len(hashes) == count
                and npy_path.stat().st_size == int(meta["nbytes"])
                and file_sha256(npy_path) == meta["sha256"]
            )
            vectors = np.load(npy_path, mmap_mode="r", allow_pickle=False) if ok else np.empty((0, 0))
            ok = ok and vectors.dtype == np.float32 and vectors.shape == (count, dim) and dim > 0
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            self.rejected.add(seg_name)
            for p in (meta_path, npy_path):  # json first: a half-deleted segment must look absent
                try:
                    p.unlink(missing_ok=True)
                except OSError:
                    pass
            return
        self.segments[seg_name] = _Segment(hashes=list(hashes), vectors=vectors)
        for row, h in enumerate(hashes):
            self.where.setdefault(h, (seg_name, row))

    def add(self, seg_name: str, hashes: list[str], vectors: np.ndarray) -> None:
        self.segments[seg_name] = _Segment(hashes=hashes, vectors=vectors)
        for row, h in enumerate(hashes):
            self.where.setdefault(h, (seg_name, row))


def _remove_if_old(path: Path, now: float) -> None:
    try:
        if now - path.stat().st_mtime > _ORPHAN_AGE_S:
            path.unlink()
    except OSError:
        pass


def model_folder_name(cache_key: str) -> str:
    """A readable, collision-free folder name for an embedder cache key."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", cache_key).strip("._")[:48]
    return f"{readable}-{hashlib.sha256(cache_key.encode()).hexdigest()[:16]}"


class EmbeddingStore:
    """Embeds texts through a model only when the store does not hold them yet (thread-safe per process)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self._shelves: dict[str, _Shelf] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"EmbeddingStore({str(self.root)!r})"

    # ---- embeddings -------------------------------------------------------------------------------
    def _shelf(self, cache_key: str) -> _Shelf:
        folder = self.root / "embeddings" / model_folder_name(cache_key)
        with self._guard:
            shelf = self._shelves.get(cache_key)
            if shelf is None:
                shelf = self._shelves[cache_key] = _Shelf(folder)
        return shelf

    def stored(self, cache_key: str, texts: Sequence[str]) -> list[bool]:
        """Per text: whether the store already holds its vector for this model key (what a build will not embed)."""
        shelf = self._shelf(cache_key)
        with _lock_for(shelf.folder):
            shelf.refresh()
            return [text_hash(t) in shelf.where for t in texts]

    def embed(
        self,
        embedder: Embedder,
        texts: Sequence[str],
        *,
        progress: Progress | None = None,
        batch_size: int = 32,
    ) -> tuple[np.ndarray, int]:
        """Vectors for ``texts`` in order, and how many texts had to be sent to the model."""
        key = embedder.cache_key
        shelf = self._shelf(key)
        hashes = [text_hash(t) for t in texts]
        with _lock_for(shelf.folder):
            shelf.refresh()
            missing: dict[str, str] = {}
            for h, t in zip(hashes, texts, strict=True):
                if h not in shelf.where and h not in missing:
                    missing[h] = t
            if missing:
                # progress counts every text asked for (a repeated or already stored text is done from the
                # start), so the last call reads len(texts)/len(texts): 606 of 606 chunks, not 605 of 606
                have = len(texts) - len(missing)

                def counted(done: int, _total: int, rate: float) -> None:
                    if progress is not None:
                        progress(have + done, len(texts), rate)

                self._embed_missing(embedder, shelf, missing, progress=counted, batch_size=batch_size)
            elif progress is not None:
                progress(len(texts), len(texts), 0.0)
            return self._gather(shelf, hashes, embedder), len(missing)

    def _embed_missing(
        self,
        embedder: Embedder,
        shelf: _Shelf,
        missing: dict[str, str],
        *,
        progress: Progress | None,
        batch_size: int,
    ) -> None:
        ensure_writable(shelf.folder)  # a read-only store fails here, not after the first segment's work
        key_file = shelf.folder / "key.json"
        if not key_file.exists():
            atomic_write_bytes(key_file, json.dumps({"cache_key": embedder.cache_key}).encode())
        items = list(missing.items())
        total, t0 = len(items), time.perf_counter()
        # An in-process model is asked one batch at a time, so a stop (an exception from ``progress``: Cancel, a
        # click, a reload) finds every finished batch in hand and saves it; an endpoint client gets whole segments
        # (it spreads a list over its requests and servers) and keeps the segments it finished.
        step = max(int(batch_size), 1) if isinstance(embedder, InProcess) else SEGMENT_SIZE
        pending: list[tuple[list[str], np.ndarray]] = []
        last_flush = time.perf_counter()

        def flush() -> None:
            nonlocal last_flush
            if pending:
                hashes = [h for hs, _ in pending for h in hs]
                self._write_segment(shelf, hashes, [v for _, v in pending], dim=int(pending[0][1].shape[1]))
                pending.clear()
            last_flush = time.perf_counter()

        def report(done: int) -> None:
            if progress is not None:
                elapsed = time.perf_counter() - t0
                progress(done, total, done / elapsed if elapsed > 0 else 0.0)

        done = 0
        try:
            for window in range(0, total, SEGMENT_SIZE):
                # longest texts first within a segment's window, as sentence-transformers sorts one call's texts
                part = sorted(items[window : window + SEGMENT_SIZE], key=lambda it: -len(it[1]))
                for start in range(0, len(part), step):
                    texts = [t for _, t in part[start : start + step]]

                    def _sub(d: int, _total: int, _rate: float, base: int = done) -> None:
                        report(base + d)

                    inner = _sub if step > batch_size else None  # one batch: reported below, vectors in hand
                    vecs = embedder.encode_documents(texts, progress=inner, batch_size=batch_size)
                    pending.append(
                        (
                            [h for h, _ in part[start : start + step]],
                            _check_vectors(vecs, len(texts), embedder),
                        )
                    )
                    done += len(texts)
                    if sum(len(hs) for hs, _ in pending) >= SEGMENT_SIZE or (
                        time.perf_counter() - last_flush >= FLUSH_SECONDS
                    ):
                        flush()
                    report(done)
            flush()
        except BaseException:
            try:  # a stop or a failure keeps every finished batch; the original error goes on
                flush()
            except Exception:  # e.g. the disk filled up: say so in the log, raise what stopped the build
                logging.getLogger(__name__).exception(
                    "could not save the finished batches of a stopped build"
                )
            raise

    def put(self, cache_key: str, hashes: Sequence[str], vectors: np.ndarray) -> int:
        """Store ready-made vectors (a bundle's): row i of ``vectors`` is the vector of the text whose ``text_hash``
        is ``hashes[i]``. Only rows the store lacks for ``cache_key`` are written, in segments of up to
        ``BULK_SEGMENT_BYTES`` streamed from ``vectors`` a block at a time (a memory map is never read whole
        into memory, nor copied); returns how many rows were written."""
        arr = vectors
        if arr.ndim != 2 or arr.shape[0] != len(hashes) or arr.shape[1] == 0 or arr.dtype != np.float32:
            raise StoreError(
                f"Cannot store vectors of shape {arr.shape} and type {arr.dtype} for {len(hashes)} texts under "
                f"{cache_key!r}: expected float32 ({len(hashes)}, dim)."
            )
        dim = int(arr.shape[1])
        shelf = self._shelf(cache_key)
        with _lock_for(shelf.folder):
            shelf.refresh()
            seen: set[str] = set()
            missing = []
            for i, h in enumerate(hashes):
                if h not in shelf.where and h not in seen:
                    seen.add(h)
                    missing.append(i)
            if not missing:
                return 0
            ensure_writable(shelf.folder)
            key_file = shelf.folder / "key.json"
            if not key_file.exists():
                atomic_write_bytes(key_file, json.dumps({"cache_key": cache_key}).encode())
            per_segment = max(SEGMENT_SIZE, BULK_SEGMENT_BYTES // (dim * 4))
            for at in range(0, len(missing), per_segment):
                rows = missing[at : at + per_segment]
                self._write_segment(shelf, [hashes[r] for r in rows], _row_blocks(arr, rows), dim=dim)
            return len(missing)

    def _write_segment(
        self, shelf: _Shelf, hashes: list[str], blocks: Iterable[np.ndarray], *, dim: int
    ) -> None:
        """One segment of ``hashes``' vectors, whose rows ``blocks`` give in order: the .npy is streamed to its temp
        file a block at a time (hashed on the way), so a segment costs one block of memory, not its size twice."""
        digest, size, count = hashlib.sha256(), 0, 0
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": np.dtype(np.float32).str, "fortran_order": False, "shape": (len(hashes), dim)}
        )

        def rows() -> Iterator[memoryview]:
            nonlocal count
            for block in blocks:
                part = np.ascontiguousarray(block, dtype=np.float32)
                if part.ndim != 2 or part.shape[1] != dim or not np.isfinite(part).all():
                    raise StoreError(
                        f"Cannot store a block of shape {part.shape} in {shelf.folder}: expected finite "
                        f"float32 rows of {dim} dims."
                    )
                count += part.shape[0]
                yield part.data  # C-contiguous: hashed and written without a copy

        def write(tmp: Path) -> None:
            nonlocal size
            parts: Iterable[bytes | memoryview] = itertools.chain([header.getvalue()], rows())
            if len(hashes) * dim * 4 <= WRITE_BLOCK_BYTES:  # a build's segment (256 texts): one write
                data = b"".join(parts)
                digest.update(data)
                tmp.write_bytes(data)
                size = len(data)
            else:  # an import's: a block at a time
                with open(tmp, "wb") as fh:
                    for part in parts:
                        digest.update(part)
                        size += fh.write(part)
            if count != len(hashes):
                raise StoreError(f"A segment of {len(hashes)} texts got {count} vectors in {shelf.folder}.")

        name = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        npy_path = shelf.folder / f"{name}.npy"
        atomic_write(npy_path, write)
        meta = {
            "format": SEGMENT_FORMAT,
            "count": len(hashes),
            "dim": dim,
            "dtype": "float32",
            "nbytes": size,
            "sha256": digest.hexdigest(),
            "hashes": hashes,
        }
        meta["meta_sha256"] = meta_checksum(meta)
        atomic_write_bytes(shelf.folder / f"{name}.json", json.dumps(meta).encode())
        shelf.add(name, hashes, np.load(npy_path, mmap_mode="r", allow_pickle=False))

    @staticmethod
    def _gather(shelf: _Shelf, hashes: list[str], embedder: Embedder) -> np.ndarray:
        if not hashes:
            return np.zeros((0, max(int(embedder.spec.dim or 0), 0)), dtype=np.float32)
        dims = {shelf.segments[shelf.where[h][0]].vectors.shape[1] for h in set(hashes)}
        if len(dims) != 1:
            raise StoreError(
                f"The store folder {shelf.folder} holds vectors of different sizes {sorted(dims)} for one "
                "model key; the model changed without a new revision. Clear it with "
                "EmbeddingStore().clear(<model key>) or `rm -r` that folder."
            )
        out = np.empty((len(hashes), dims.pop()), dtype=np.float32)
        by_seg: dict[str, tuple[list[int], list[int]]] = {}
        for i, h in enumerate(hashes):
            seg, row = shelf.where[h]
            pos, rows = by_seg.setdefault(seg, ([], []))
            pos.append(i)
            rows.append(row)
        for seg, (pos, rows) in by_seg.items():
            out[pos] = shelf.segments[seg].vectors[rows]
        return out

    # ---- blobs (index cache) ------------------------------------------------------------------------
    def blob_path(self, name: str) -> Path:
        """Where a cached artifact called ``name`` (e.g. 'indexes/abc.hnsw') lives; its folder exists."""
        if not _BLOB_NAME.match(name) or ".." in name:
            raise StoreError(f"Invalid blob name {name!r}: use letters, digits, '.', '_', '-' and '/'.")
        path = self.root / "blobs" / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, path.parent) from exc
        return path

    # ---- the last session (a reload or a second tab picks it up) ---------------------------------------
    def session_record(self) -> dict | None:
        """The last session's record (sessions/last.json): corpus, models, settings, build state; None when there is
        none or it cannot be read (a damaged record is ignored, never trusted in part)."""
        path = self.root / SESSION_RECORD
        try:
            if path.stat().st_size > MAX_RECORD_BYTES:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("format") == RECORD_FORMAT else None

    def update_session_record(self, **fields: object) -> dict:
        """Merge ``fields`` into the last-session record (read, merge, atomic write under a lock); returns it."""
        path = self.root / SESSION_RECORD
        with _lock_for(path):
            record = {
                **(self.session_record() or {}),
                **fields,
                "format": RECORD_FORMAT,
                "saved_at": time.time(),
            }
            atomic_write_bytes(path, json.dumps(record, ensure_ascii=False).encode("utf-8"))
        return record

    def keep_corpus(self, sha256: str, data: bytes) -> bool:
        """Keep a corpus's JSON (sessions/corpora/<sha256>.json) so a later session can restore it; the newest
        ``KEPT_CORPORA`` are kept. False (nothing written) when it is larger than ``MAX_KEPT_CORPUS_BYTES``."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise StoreError(f"Invalid corpus key {sha256!r}: expected a sha256 hex digest.")
        if len(data) > MAX_KEPT_CORPUS_BYTES:
            return False
        folder = self.root / "sessions" / "corpora"
        path = folder / f"{sha256}.json"
        if path.exists():
            os.utime(path)  # the newest again
        else:
            atomic_write_bytes(path, data)
        kept = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEPT_CORPORA:]:
            _discard(old)
        return True

    def kept_corpus(self, sha256: str) -> bytes | None:
        """A corpus JSON kept by keep_corpus, or None."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            return None
        try:
            return (self.root / "sessions" / "corpora" / f"{sha256}.json").read_bytes()
        except OSError:
            return None

    # ---- housekeeping -------------------------------------------------------------------------------
    def stats(self) -> dict:
        """Per model key: segments, vectors, bytes; plus blob bytes and the root."""
        models: dict[str, dict] = {}
        emb = self.root / "embeddings"
        for folder in sorted(emb.iterdir()) if emb.is_dir() else []:
            try:
                key = json.loads((folder / "key.json").read_text(encoding="utf-8"))["cache_key"]
            except (OSError, ValueError, KeyError):
                key = folder.name
            segs = list(folder.glob("*.json"))
            vectors = 0
            for s in segs:
                if s.name == "key.json":
                    continue
                try:
                    vectors += int(json.loads(s.read_text(encoding="utf-8"))["count"])
                except (OSError, ValueError, KeyError):
                    pass
            models[key] = {
                "folder": str(folder),
                "segments": len(segs) - (folder / "key.json").exists(),
                "vectors": vectors,
                "bytes": _tree_bytes(folder),
            }
        return {"root": str(self.root), "models": models, "blob_bytes": _tree_bytes(self.root / "blobs")}

    def clear(self, model_key: str | None = None) -> None:
        """Delete one model's embeddings (by cache key), or everything in the store."""
        target = self.root if model_key is None else self.root / "embeddings" / model_folder_name(model_key)
        with self._guard:
            if model_key is None:
                self._shelves.clear()
            else:
                self._shelves.pop(model_key, None)
        try:
            shutil.rmtree(target, ignore_errors=False) if target.exists() else None
        except OSError as exc:
            raise os_error(exc, target) from exc


def _tree_bytes(path: Path) -> int:
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def release_pages(arr: np.ndarray) -> None:
    """Let go of the pages a read-only memory map (``np.load(..., mmap_mode="r")``) has read so far: they are clean
    copies of the file, read again from the page cache when next used, and would otherwise count as this process's
    memory (its RSS, and what an out-of-memory killer weighs) until the map is dropped. Anything else: a no-op."""
    mapped = getattr(arr, "_mmap", None)  # np.memmap's own map (shared by its slices)
    if isinstance(mapped, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapped.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # a closed map, a platform without it: the pages stay, nothing breaks
            pass


def _row_blocks(arr: np.ndarray, rows: list[int]) -> Iterator[np.ndarray]:
    """``arr[rows]`` a block of about ``WRITE_BLOCK_BYTES`` at a time: slices of a memory map where ``rows`` run
    on without a gap (nothing copied until it is written), the rows taken out where they do not."""
    step = max(1, WRITE_BLOCK_BYTES // max(1, arr.shape[1] * arr.itemsize))
    for at in range(0, len(rows), step):
        part = rows[at : at + step]
        yield arr[part[0] : part[-1] + 1] if part[-1] - part[0] + 1 == len(part) else arr[part]
        release_pages(arr)  # the block is written: a memory map's pages of it need not stay resident


def _check_vectors(vecs: object, n: int, embedder: Embedder) -> np.ndarray:
    """The model's output as float32 (n, dim) with finite values, or an error naming the model."""
    arr = np.ascontiguousarray(np.asarray(vecs, dtype=np.float32))
    name = embedder.spec.name
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] == 0:
        raise ModelLoadError(
            f"Model {name} returned an array of shape {arr.shape} for {n} texts; expected ({n}, dim). "
            "Check the model or endpoint configuration."
        )
    if not np.isfinite(arr).all():
        raise ModelLoadError(
            f"Model {name} returned NaN/inf embeddings; try float32 (not fp16) on this device."
        )
    return arr
