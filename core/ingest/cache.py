"""The ingest cache: a file's chunks (read, decoded, chunked, language-tagged) kept on disk by its content.

Keyed by the sha256 of the file's bytes, its source name (chunk ids are made from it), the chunking options,
the reader limits that change its text, the tokenizer's name (token chunking) and ``INGEST_VERSION``; so a
second CLI command or page that loads the same files reads their chunks from here instead of decoding,
chunking and detecting languages again, and an edited file, a changed option or newer ingest code misses.

Entries are JSON (never pickle) under ``<store root>/ingest/<key[:2]>/<key>.json``: a header line (format, key,
sha256 of the rest) and the payload, written to a temp file and renamed into place: a truncated, edited or unreadable entry is ignored
(the file is read again and the entry rewritten), never trusted in part and never an error. A cache that cannot
be written (read-only folder, full disk) only costs the time it would have saved.

The folder is kept under a size limit (``DEFAULT_MAX_MB``, or ``$RETRIEVAL_COMPARE_INGEST_CACHE_MB``): a load that
wrote entries then removes the least recently used ones (an entry's file time is touched at each hit) until the
folder is back under 80% of the limit, never an entry the same load used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import uuid
from collections.abc import Collection
from pathlib import Path

from core.ingest.options import ChunkOptions, Limits
from core.types import Chunk

INGEST_VERSION = 2  # bump when reading, chunking or language tagging changes what a file gives (2: lid.176)
ENTRY_FORMAT = 1
FOLDER = "ingest"
_FIELDS = tuple(f.name for f in dataclasses.fields(Chunk))
_INT_OR_NONE = ("page", "line_start", "line_end")
DEFAULT_MAX_MB = 2048  # a million short chunks (bench_million) took 190 MB of entries
MAX_MB_ENV = "RETRIEVAL_COMPARE_INGEST_CACHE_MB"
PRUNE_TO = 0.8  # a prune leaves the folder at this share of the limit, so the next loads do not prune again


def max_bytes_from_env() -> int:
    """The size limit in bytes: ``$RETRIEVAL_COMPARE_INGEST_CACHE_MB`` when it is a positive number, else the default."""
    raw = os.environ.get(MAX_MB_ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MAX_MB
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int((mb if math.isfinite(mb) and mb > 0 else DEFAULT_MAX_MB) * (1 << 20))


@dataclasses.dataclass(frozen=True)
class CachedFile:
    """What one file gave: its chunks (languages settled), reader notes, encoding and kind."""

    chunks: tuple[Chunk, ...]
    notes: tuple[str, ...]
    encoding: str
    kind: str


def cache_key(
    digest: str, source: str, options: ChunkOptions, limits: Limits, tokenizer_name: str = ""
) -> str:
    """The entry name of a file: sha256 over its bytes' digest, name, options, limits and the ingest version."""
    parts = {
        "version": INGEST_VERSION,
        "bytes": digest,
        "source": source,
        "options": dataclasses.asdict(options),
        "max_line_chars": limits.max_line_chars,
        "tokenizer": tokenizer_name,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _chunk_row(c: Chunk) -> list[object]:
    return [list(v) if isinstance(v, tuple) else v for v in (getattr(c, f) for f in _FIELDS)]


def _chunk_of(row: object) -> Chunk:
    """A Chunk from its stored row; ValueError on any field of the wrong shape (the entry is then ignored)."""
    if not isinstance(row, list) or len(row) != len(_FIELDS):
        raise ValueError("chunk row of the wrong length")
    values = dict(zip(_FIELDS, row, strict=True))
    for name in ("id", "source", "text", "lang", "title"):
        if not isinstance(values[name], str):
            raise ValueError(f"chunk {name} is not text")
    for name in ("start", "end"):
        if not isinstance(values[name], int):
            raise ValueError(f"chunk {name} is not an integer")
    for name in _INT_OR_NONE:
        if values[name] is not None and not isinstance(values[name], int):
            raise ValueError(f"chunk {name} is not an integer")
    heading = values["heading"]
    if not isinstance(heading, list) or not all(isinstance(h, str) for h in heading):
        raise ValueError("chunk heading is not a list of text")
    if not isinstance(values["mixed"], bool):
        raise ValueError("chunk mixed is not true/false")
    values["heading"] = tuple(heading)
    return Chunk(**values)


class IngestCache:
    """Per-file ingest results on disk under ``root/ingest``; ``hits`` and ``misses`` count this object's lookups."""

    def __init__(self, root: str | os.PathLike[str], *, max_bytes: int | None = None) -> None:
        self.folder = Path(root) / FOLDER
        self.max_bytes = max_bytes if max_bytes is not None else max_bytes_from_env()
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"IngestCache({str(self.folder)!r})"

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedFile | None:
        """The cached result for ``key``, or None when there is none or it is damaged (it is then rewritten)."""
        try:
            head, _, body = self._path(key).read_bytes().partition(b"\n")
            entry = json.loads(head)
            if entry.get("format") != ENTRY_FORMAT or entry.get("key") != key:
                raise ValueError("another format or key")
            if hashlib.sha256(body).hexdigest() != entry.get("sha256"):
                raise ValueError("payload checksum differs")
            payload = json.loads(body)
            found = CachedFile(
                chunks=tuple(_chunk_of(row) for row in payload["chunks"]),
                notes=tuple(str(n) for n in payload["notes"]),
                encoding=str(payload["encoding"]),
                kind=str(payload["kind"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.misses += 1
            return None
        self.hits += 1
        try:  # recency for the size limit: an entry in use is the last one removed
            os.utime(self._path(key))
        except OSError:
            pass
        return found

    def put(self, key: str, found: CachedFile) -> bool:
        """Store ``found`` under ``key`` (temp file + rename); False when the folder cannot be written."""
        payload = {
            "chunks": [_chunk_row(c) for c in found.chunks],
            "notes": list(found.notes),
            "encoding": found.encoding,
            "kind": found.kind,
        }
        body = json.dumps(payload, separators=(",", ":")).encode("ascii")  # lone surrogates escaped, not lost
        head = json.dumps({"format": ENTRY_FORMAT, "key": key, "sha256": hashlib.sha256(body).hexdigest()})
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(head.encode("ascii") + b"\n" + body)
            os.replace(tmp, path)
        except (OSError, ValueError):  # a cache that cannot be written only costs time
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return False
        return True

    def prune(self, keep: Collection[str] = ()) -> int:
        """Remove the least recently used entries (not those in ``keep``) while the folder is over ``max_bytes``,
        down to ``PRUNE_TO`` of it; returns the bytes removed. Never raises: a cache that cannot be pruned only
        takes disk space."""
        try:
            entries = []
            for path in self.folder.glob("*/*.json"):
                try:
                    st = path.stat()
                except OSError:
                    continue
                entries.append((st.st_mtime, st.st_size, path))
        except OSError:
            return 0
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return 0
        target = int(self.max_bytes * PRUNE_TO)
        keep_set = set(keep)
        freed = 0
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total - freed <= target:
                break
            if path.stem in keep_set:
                continue
            try:
                path.unlink()
            except OSError:
                continue
            freed += size
        return freed
