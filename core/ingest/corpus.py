"""Load a folder, file, zip or uploaded files into a Corpus: read, decode, chunk, tag language; never raise per file."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from core.errors import IngestError
from core.ingest.cache import CachedFile, IngestCache, cache_key
from core.ingest.chunking import Tokenizer, chunk_pieces
from core.ingest.document import BeirDoc, EmptyText, Extracted
from core.ingest.language import (
    code_prose,
    detect_language,
    detect_language_sure,
    is_mixed_zh_en,
    markdown_prose,
    settle_languages,
)
from core.ingest.options import MB, TOKENIZER_NEEDED, ChunkOptions, Limits
from core.ingest.readers import extension, is_supported, read_file, unsupported_reason
from core.ingest.zipsafe import Member, Refused, expand_zip
from core.text import clean_text, has_visible_text
from core.types import Chunk, Corpus, FileStatus

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "__MACOSX"})


def corpus_sha256(chunks: tuple[Chunk, ...] | list[Chunk]) -> str:
    """Content identity of a corpus: sha256 over (id, text, title) of every chunk, in order."""
    h = hashlib.sha256()
    for c in chunks:
        for part in (c.id, c.text, c.title):
            raw = part.encode("utf-8", errors="surrogatepass")
            h.update(len(raw).to_bytes(8, "little"))
            h.update(raw)
    return h.hexdigest()


def beir_chunks(docs: Iterable[BeirDoc]) -> list[Chunk]:
    """One chunk per BEIR document (MTEB never splits them): id and source = ``_id``, title kept, language tagged.

    The Corpus page (an uploaded corpus.jsonl) and Evaluate/CLI (``core.datasets.beir.load_beir``) both build their
    chunks here, so one corpus.jsonl gives one ``Corpus.sha256`` whichever page loaded it.
    """
    out = []
    for d in docs:
        sample = d.text if len(d.text) >= 40 or not d.title else d.title + " " + d.text
        out.append(
            Chunk(
                id=d.id, source=d.id, text=d.text, start=0, end=len(d.text), title=d.title,
                lang=detect_language(sample), mixed=is_mixed_zh_en(sample),
            )
        )  # fmt: skip
    return out


def beir_sidecars(paths: Iterable[str]) -> set[str]:
    """Paths that are judgments, not documents: queries.jsonl, qrels.tsv and qrels/*.tsv beside a corpus.jsonl
    (a BEIR set), or together in one folder (a judged folder such as sample_corpus/: docs/ + queries + qrels)."""
    paths = list(paths)
    roots = {posixpath.dirname(p) for p in paths if posixpath.basename(p) == "corpus.jsonl"}
    has_queries = {posixpath.dirname(p) for p in paths if posixpath.basename(p) == "queries.jsonl"}
    has_qrels = {posixpath.dirname(p) for p in paths if posixpath.basename(p) == "qrels.tsv"}
    has_qrels |= {
        posixpath.dirname(posixpath.dirname(p))
        for p in paths
        if posixpath.basename(posixpath.dirname(p)) == "qrels" and p.endswith(".tsv")
    }
    roots |= has_queries & has_qrels
    found = set()
    for p in paths:
        folder, base = posixpath.split(p)
        if folder in roots and base in ("queries.jsonl", "qrels.tsv"):
            found.add(p)
        elif (
            posixpath.basename(folder) == "qrels"
            and posixpath.dirname(folder) in roots
            and base.endswith(".tsv")
        ):
            found.add(p)
    return found


def _chunks_of(
    source: str, doc: Extracted, options: ChunkOptions, tokenizer: Tokenizer | None
) -> list[Chunk]:
    if doc.kind == "beir":
        return beir_chunks(doc.docs)
    chunks, found, samples = [], [], []
    for n, piece in enumerate(chunk_pieces(doc, options, tokenizer=tokenizer)):
        text = doc.text[piece.start : piece.end]
        if not has_visible_text(text):  # zero-width / bidi-control runs would be invisible search results
            continue
        sample = (
            code_prose(text)
            if doc.kind == "code"
            else markdown_prose(text)
            if doc.kind == "markdown"
            else text
        )
        found.append(detect_language_sure(sample))
        samples.append(sample)
        chunks.append(
            Chunk(
                id=f"{source}#{n}", source=source, text=text, start=piece.start, end=piece.end,
                page=piece.page, line_start=piece.line_start, line_end=piece.line_end, heading=piece.heading,
                mixed=is_mixed_zh_en(text),
            )
        )  # fmt: skip
    # a chunk too short to tell takes its file's language instead of a guess (short zh/en chunks read as da, de)
    langs = settle_languages(found, "\n".join(samples)[:4000] if not all(s for _, s in found) else "")
    return [dataclasses.replace(c, lang=lang) for c, lang in zip(chunks, langs, strict=True)]


class _Loader:
    """Accumulates chunks and statuses over the files of one load call."""

    def __init__(
        self,
        options: ChunkOptions,
        tokenizer: Tokenizer | None,
        limits: Limits,
        cache: IngestCache | None = None,
    ) -> None:
        self.options, self.tokenizer, self.limits = options, tokenizer, limits
        # token chunking depends on the tokenizer: cached only when it has a name to key the entries by
        self.tokenizer_name = (
            str(getattr(tokenizer, "name_or_path", "") or "") if tokenizer is not None else ""
        )
        self.cache = cache if tokenizer is None or self.tokenizer_name else None
        self.chunks: list[Chunk] = []
        self.files: list[FileStatus] = []
        self.seen_hashes: dict[str, str] = {}
        self.seen_ids: set[str] = set()
        self.sources: set[str] = set()
        self.sidecars: set[str] = set()  # BEIR judgments: reported, never embedded
        self.total = 0
        self.used: set[str] = set()  # cache entries this load read or wrote (a prune keeps them)
        self.wrote = False

    def skip(self, source: str, reason: str, size: int = 0, encoding: str = "") -> None:
        self.files.append(FileStatus(source, "skipped", reason, encoding, size, 0))

    def add(self, source: str, data: bytes, depth: int = 1) -> None:
        """Read one file (or zip) and record its status; any failure becomes a skipped status."""
        if source in self.sources:  # two uploads with the same name: keep both, distinctly named
            stem, ext = posixpath.splitext(source)
            n = 2
            while f"{stem} ({n}){ext}" in self.sources:
                n += 1
            source = f"{stem} ({n}){ext}"
        self.sources.add(source)
        if source in self.sidecars:
            self.skip(
                source,
                f"{source}: judgments of the set beside it (queries and qrels), not documents; not embedded — load the "
                "set on the Evaluate page (or use `evaluate --beir`) to score with them",
                len(data),
            )
            return
        try:
            self._add(source, data, depth)
        except EmptyText as exc:
            self.files.append(FileStatus(source, "empty", str(exc), "", len(data), 0))
        except IngestError as exc:
            self.skip(source, str(exc), len(data))
        except Exception as exc:  # a bug must not lose the other files: report it instead
            self.skip(source, f"internal error reading {source}: {type(exc).__name__}: {exc}", len(data))

    def _add(self, source: str, data: bytes, depth: int) -> None:
        size = len(data)
        if size > self.limits.max_file_bytes:
            raise IngestError(
                f"{source}: {size / MB:,.1f} MB exceeds the {self.limits.max_file_bytes / MB:,.0f} MB per-file limit; "
                "split it or raise Limits.max_file_bytes"
            )
        if self.total + size > self.limits.max_total_bytes:
            raise IngestError(
                f"{source}: total size limit of {self.limits.max_total_bytes / MB:,.0f} MB reached; "
                "load fewer files or raise Limits.max_total_bytes"
            )
        if not is_supported(source):
            raise IngestError(unsupported_reason(source))
        if not data.strip():
            raise EmptyText(f"{source}: empty file (0 bytes of text); remove it or add content")
        digest = hashlib.sha256(data).hexdigest()
        if digest in self.seen_hashes:
            first = self.seen_hashes[digest]
            self.files.append(
                FileStatus(
                    source,
                    "duplicate",
                    f"{source}: duplicate of {first} (same bytes); embedded once",
                    "",
                    size,
                    0,
                )
            )
            return
        self.seen_hashes[digest] = source
        if extension(source) == ".zip":
            self.total += len(data)
            items = expand_zip(data, archive=source, limits=self.limits, depth=depth)
            self.sidecars |= beir_sidecars(item.path for item in items if isinstance(item, Member))
            for item in items:
                if isinstance(item, Refused):
                    self.skip(item.path, item.reason, len(data) if item.path == source else 0)
                elif isinstance(item, Member):
                    self.add(item.path, item.data, depth + 1)
            return
        self.total += size
        read = self._read(source, data, digest)
        chunks, notes = list(read.chunks), list(read.notes)
        if read.kind == "beir":
            fresh = [c for c in chunks if c.id not in self.seen_ids]
            if len(fresh) < len(chunks):
                dup = next(c.id for c in chunks if c.id in self.seen_ids)
                notes.append(
                    f"{source}: {len(chunks) - len(fresh)} document(s) with an _id seen before skipped (first: {dup!r})"
                )
            unique: dict[str, Chunk] = {}
            for c in fresh:
                unique.setdefault(c.id, c)
            chunks = list(unique.values())
            notes.insert(0, f"BEIR corpus, {len(chunks)} documents")
        if not chunks:  # e.g. every _id of a BEIR file was seen in an earlier file
            raise IngestError(
                f"{source}: nothing left to embed; " + ("; ".join(notes) or "check the file's content")
            )
        if not any(has_visible_text(c.embed_text) for c in chunks):
            raise EmptyText(f"{source}: no visible text to embed after reading it; check the file's content")
        self.seen_ids.update(c.id for c in chunks)
        self.chunks.extend(chunks)
        self.files.append(FileStatus(source, "loaded", "; ".join(notes), read.encoding, size, len(chunks)))

    def _read(self, source: str, data: bytes, digest: str) -> CachedFile:
        """Read, chunk and tag one file, or take what an earlier load of the same bytes gave from the cache."""
        key = ""
        if self.cache is not None:
            key = cache_key(digest, source, self.options, self.limits, self.tokenizer_name)
            self.used.add(key)
            found = self.cache.get(key)
            if found is not None:
                return found
        doc = read_file(
            source, data, csv_column=self.options.csv_column, max_line_chars=self.limits.max_line_chars
        )
        read = CachedFile(
            tuple(_chunks_of(source, doc, self.options, self.tokenizer)),
            tuple(doc.notes),
            doc.encoding,
            doc.kind,
        )
        if self.cache is not None:
            self.wrote = self.cache.put(key, read) or self.wrote
        return read

    def corpus(self, name: str) -> Corpus:
        if self.cache is not None and self.wrote:  # the cache grew: back under its size limit
            self.cache.prune(keep=self.used)
        chunks = tuple(self.chunks)
        return Corpus(chunks, tuple(self.files), corpus_sha256(chunks), name)


def _clean_name(name: str) -> str:
    """A source name: '/'-separated, relative, and clean text (``clean_text``: a file name that is not UTF-8
    arrives with lone surrogates, which no store, tokenizer or page can encode; chunk ids are made from it)."""
    name = clean_text(str(name).replace("\\", "/").lstrip("/"))[0]
    return "/".join(p for p in name.split("/") if p not in ("", ".")) or "unnamed"


def load_files(
    files: list[tuple[str, bytes]],
    *,
    options: ChunkOptions = ChunkOptions(),
    tokenizer: Tokenizer | None = None,
    name: str = "upload",
    limits: Limits = Limits(),
    cache: IngestCache | None = None,
) -> Corpus:
    """Load uploaded (name, bytes) pairs; zips expand to 'archive.zip/inner/path'. Never raises per file.

    ``cache``: where each file's chunks are kept by content, so loading the same bytes again skips reading,
    chunking and language detection (``IngestCache(store_root)``); None reads every file.
    """
    if options.unit == "tokens" and tokenizer is None:
        raise IngestError(TOKENIZER_NEEDED)
    loader = _Loader(options, tokenizer, limits, cache)
    loader.sidecars = beir_sidecars(_clean_name(raw_name) for raw_name, _ in files)
    for raw_name, data in files:
        source = _clean_name(raw_name)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            loader.skip(source, f"{source}: expected file bytes, got {type(data).__name__}")
            continue
        loader.add(source, bytes(data))
    return loader.corpus(name)


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        found.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return found


_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def not_regular_reason(source: str, mode: int, *, refused: bool = False) -> str:
    """The skipped status of a path that is not a regular file (reading a pipe or a device blocks or never ends);
    ``refused``: the words for a file a load cannot do without (a BEIR set's queries.jsonl)."""
    kind = _KINDS.get(stat.S_IFMT(mode), f"not a regular file (file type {stat.S_IFMT(mode):#o})")
    return (
        f"{source}: {kind}, not a regular file; {'refused' if refused else 'skipped'} without reading it (a pipe, "
        "socket or device could block the load forever or never end) — copy its content into a regular file to "
        "include it"
    )


class NotRegularFile(Exception):
    """``open_regular`` found a pipe, socket, device or folder; ``mode`` is its ``st_mode``
    (``not_regular_reason`` words it)."""

    def __init__(self, mode: int) -> None:
        super().__init__(mode)
        self.mode = mode


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for reading (binary) if it is a regular file; ``NotRegularFile`` otherwise.

    The type is checked on the open file itself (``fstat``), not believed from an earlier ``stat``: a path
    swapped for a FIFO in between is still refused. The open never blocks (``O_NONBLOCK``: opening a FIFO with
    no writer would); reads of a regular file are unaffected by it. OSError as ``os.open`` raises it."""
    flags = (
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    )
    fd = os.open(path, flags)
    fh = os.fdopen(fd, "rb")
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(mode)
    except BaseException:
        fh.close()
        raise
    return fh


def _read_regular(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``path``, refusing (``NotRegularFile``) anything but a regular file
    (``open_regular``). The read stops one byte past ``limit``, so a file that grew since its size was read is
    caught by the per-file limit instead of being read whole."""
    with open_regular(path) as fh:
        chunks, left = [], limit + 1
        while left > 0:
            block = fh.read(min(left, 1 << 20))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
        return b"".join(chunks)


def load_corpus(
    path: str | os.PathLike[str],
    *,
    options: ChunkOptions = ChunkOptions(),
    tokenizer: Tokenizer | None = None,
    name: str | None = None,
    limits: Limits = Limits(),
    cache: IngestCache | None = None,
) -> Corpus:
    """Load a folder (recursively), a single file or a zip; per-file problems become FileStatus entries.

    Args:
        path: A folder, a single supported file, or a zip.
        options: How files are cut into chunks (unit, size, overlap, structure); defaults to 800 chars.
        tokenizer: A Hugging Face fast tokenizer; needed only when ``options.unit == "tokens"``.
        name: The corpus name; defaults to the folder or file name.
        limits: Size limits per file, per load and per zip; a file beyond them is skipped with a message.
        cache: Where each file's chunks are kept by content (``IngestCache(store_root)``): a file whose bytes,
            name and options were loaded before is not read, chunked or language-tagged again. None: no cache.

    Returns:
        The Corpus: its chunks, one FileStatus per file (loaded or skipped, and why) and its sha256.

    Raises:
        IngestError: ``path`` does not exist, or token chunking was asked for without a tokenizer.
    """
    root = Path(path)
    if not root.exists():
        raise IngestError(f"{root}: no such file or folder; check the path")
    if options.unit == "tokens" and tokenizer is None:
        raise IngestError(TOKENIZER_NEEDED)
    loader = _Loader(options, tokenizer, limits, cache)
    # a folder is walked; anything else (a file, or a pipe or device given by name) is one path, checked below
    paths = _walk(root) if root.is_dir() else [root]
    base = root if root.is_dir() else root.parent
    loader.sidecars = beir_sidecars(_clean_name(p.relative_to(base).as_posix()) for p in paths)
    for p in paths:
        source = _clean_name(p.relative_to(base).as_posix())
        try:
            info = p.stat()  # follows a symlink: what matters is what a read would open
            if not stat.S_ISREG(info.st_mode):
                loader.skip(source, not_regular_reason(source, info.st_mode))
                continue
            size = info.st_size
            if size > limits.max_file_bytes:
                loader.skip(
                    source,
                    f"{source}: {size / MB:,.1f} MB exceeds the {limits.max_file_bytes / MB:,.0f} MB per-file limit; "
                    "split it or raise Limits.max_file_bytes",
                    size,
                )
                continue
            if not is_supported(source):
                loader.skip(source, unsupported_reason(source), size)
                continue
            data = _read_regular(p, limits.max_file_bytes)
        except NotRegularFile as exc:  # swapped for a pipe or device after the stat above
            loader.skip(source, not_regular_reason(source, exc.mode))
            continue
        except OSError as exc:
            loader.skip(source, f"{source}: cannot be read ({exc.strerror or exc}); check its permissions")
            continue
        loader.add(source, data)
    return loader.corpus(name if name is not None else root.name)
