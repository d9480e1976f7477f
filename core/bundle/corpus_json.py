"""A corpus as corpus.json and back (every field's type and range checked, every text cleaned), and its distinct
embed texts."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.bundle.base import REEXPORT, BundleError
from core.ingest import corpus_sha256
from core.store import text_hash
from core.text import clean_text
from core.types import Chunk, Corpus, FileStatus


def _chunk_row(c: Chunk) -> dict[str, Any]:
    row = dataclasses.asdict(c)
    row["heading"] = list(c.heading)
    return row


def corpus_json(corpus: Corpus) -> dict[str, Any]:
    """A corpus as plain JSON (chunks with spans and languages, per-file statuses)."""
    return {
        "name": corpus.name,
        "sha256": corpus.sha256,
        "chunks": [_chunk_row(c) for c in corpus.chunks],
        "files": [dataclasses.asdict(f) for f in corpus.files],
    }


_CHUNK_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "source": (str,), "text": (str,), "start": (int,), "end": (int,),
    "page": (int, type(None)), "line_start": (int, type(None)), "line_end": (int, type(None)),
    "heading": (list,), "lang": (str,), "mixed": (bool,), "title": (str,),
}  # fmt: skip
_FILE_TYPES: dict[str, tuple[type, ...]] = {
    "source": (str,), "status": (str,), "reason": (str,), "encoding": (str,), "bytes": (int,), "chunks": (int,),
}  # fmt: skip
# offsets and sizes: never negative
_COUNTS = ("start", "end", "page", "line_start", "line_end", "bytes", "chunks")


def _typed(row: object, types: dict[str, tuple[type, ...]], what: str) -> dict[str, Any]:
    if not isinstance(row, dict) or set(row) != set(types):
        keys = sorted(row) if isinstance(row, dict) else type(row).__name__
        raise BundleError(f"corpus.json: {what} has fields {keys}, expected {sorted(types)}. {REEXPORT}")
    for k, allowed in types.items():
        v = row[k]
        if not isinstance(v, allowed) or (isinstance(v, bool) and bool not in allowed):
            raise BundleError(
                f"corpus.json: {what} field {k!r} is {type(v).__name__}, not {allowed[0].__name__}. {REEXPORT}"
            )
        if k in _COUNTS and isinstance(v, int) and v < 0:
            raise BundleError(
                f"corpus.json: {what} field {k!r} is {v}; an offset or a size is never negative. {REEXPORT}"
            )
    return {k: clean_text(v)[0] if isinstance(v, str) else v for k, v in row.items()}


def corpus_from_json(data: object) -> Corpus:
    """Rebuild a corpus from corpus.json, checking every field's type; sha256 recomputed from the chunks.

    Every text (chunk text, id, source, title, language, heading, file fields) is cleaned as every other reader
    cleans it (``core.text.clean_text``: a lone surrogate or non-character becomes U+FFFD, one code point for one,
    so offsets stay valid): no tokenizer, SQLite or UTF-8 file downstream meets one."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("chunks"), list)
        or not isinstance(data.get("files"), list)
    ):
        raise BundleError(f"corpus.json must be an object with 'chunks' and 'files' lists. {REEXPORT}")
    chunks = []
    for i, raw in enumerate(data["chunks"]):
        row = _typed(raw, _CHUNK_TYPES, f"chunk {i}")
        if not all(isinstance(h, str) for h in row["heading"]):
            raise BundleError(
                f"corpus.json: chunk {i} has a heading that is not a list of strings. {REEXPORT}"
            )
        heading = tuple(clean_text(h)[0] for h in row["heading"])
        chunks.append(Chunk(**{**row, "heading": heading}))
    files = []
    for i, raw in enumerate(data["files"]):
        row = _typed(raw, _FILE_TYPES, f"file {i}")
        if row["status"] not in ("loaded", "skipped", "duplicate", "empty"):
            raise BundleError(
                f"corpus.json: file {i} has status {row['status']!r} (one of loaded, skipped, duplicate, empty). "
                f"{REEXPORT}"
            )
        files.append(FileStatus(**row))
    if len({c.id for c in chunks}) != len(chunks):
        raise BundleError(f"corpus.json: chunk ids are not unique. {REEXPORT}")
    tchunks = tuple(chunks)
    return Corpus(
        tchunks, tuple(files), corpus_sha256(tchunks), clean_text(str(data.get("name") or "bundle"))[0]
    )


def distinct_texts(corpus: Corpus) -> tuple[list[str], list[int]]:
    """Text hashes of the corpus's distinct embed texts (first occurrence order) and each chunk's row."""
    hashes: list[str] = []
    row_of: dict[str, int] = {}
    rows = []
    for c in corpus.chunks:
        h = text_hash(c.embed_text)
        if h not in row_of:
            row_of[h] = len(hashes)
            hashes.append(h)
        rows.append(row_of[h])
    return hashes, rows


def texts_in_order(corpus: Corpus) -> list[str]:
    """The distinct embed texts, one per row of a bundle's vectors (the order of ``distinct_texts``)."""
    seen: dict[str, str] = {}
    for c in corpus.chunks:
        seen.setdefault(text_hash(c.embed_text), c.embed_text)
    return list(seen.values())
