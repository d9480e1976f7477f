"""BEIR datasets in (folder or zip: corpus.jsonl, queries.jsonl, qrels/<split>.tsv) and TREC runs / qrels out.

Import follows BEIR's GenericDataLoader as MTEB uses it: one chunk per document with id = ``_id`` and the
title kept, so ``chunk.embed_text == (title + " " + text).strip()``; queries are restricted to those that
have judgments and text; grades are integers. What the loader had to decide or drop is said in
``BeirDataset.warnings`` (and ``notes`` for the harmless). Exports write files trec_eval and ranx read
unchanged; ids holding whitespace are %-encoded there (``encode_trec_id``).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import unquote

from core.errors import IngestError
from core.evaluation import Qrels, Run, ranked
from core.ingest import (
    ZIP_MEMBER_ERRORS,
    ZIP_OPEN_ERRORS,
    Limits,
    NotRegularFile,
    QueriesFile,
    archive_refusal,
    beir_chunks,
    corpus_sha256,
    member_kind,
    not_regular_reason,
    open_regular,
    read_corpus_jsonl,
    read_queries_jsonl,
)
from core.judging import MAX_GRADE
from core.types import Corpus, FileStatus


@dataclass(frozen=True)
class BeirDataset:
    """A loaded BEIR split; unpacks as ``corpus, queries, qrels = load_beir(path)``."""

    corpus: Corpus
    queries: dict[str, str]
    qrels: Qrels
    name: str = ""
    split: str = "test"
    warnings: tuple[str, ...] = field(default=(), compare=False)  # skipped or dropped data: show them
    notes: tuple[str, ...] = field(default=(), compare=False)  # decisions worth a caption (header row)

    def __iter__(self) -> Iterator[Corpus | dict[str, str] | Qrels]:
        return iter((self.corpus, self.queries, self.qrels))


def read_lines(path: Path, label: str) -> Iterator[str]:
    """The lines of a regular file (UTF-8, a BOM dropped), read lazily; ``IngestError`` naming ``label`` for a pipe,
    socket, device or folder (opened without blocking and refused, never waited on: ``core.ingest.open_regular``),
    a file that cannot be read, or bytes that are not UTF-8."""
    try:
        raw = open_regular(path)
    except NotRegularFile as e:
        raise IngestError(not_regular_reason(label, e.mode, refused=True)) from None
    except OSError as e:
        raise IngestError(f"{label}: cannot be read ({e.strerror or e}); check its permissions.") from None
    yield from _decoded(raw, label, fix="check the disk and its permissions")


def _decoded(raw: IO[bytes], label: str, *, fix: str) -> Iterator[str]:
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict") as fh:
        try:
            yield from fh
        except UnicodeDecodeError as e:
            raise IngestError(f"{label}: not UTF-8 ({e}); re-save the file as UTF-8.") from e
        except ZIP_MEMBER_ERRORS as e:
            raise IngestError(f"{label}: cannot be read to the end ({e}); {fix}.") from None


class _Source:
    """Uniform read access to a BEIR folder or zip (members addressed relative to the dataset root).

    Nothing is believed before it is read: a folder's files, and the zip itself, are opened only as regular files
    (a named pipe is refused, never waited on); a zip is refused whole by the upload limits of ``core.ingest``
    (member count, unpacked size and ratio from its central directory: ``archive_refusal``) before any member
    is read, and a member that is a link, pipe or device, or encrypted, is refused when it is read."""

    def __init__(self, path: Path, limits: Limits | None = None) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self._file: IO[bytes] | None = None
        self.root = ""
        if path.is_dir():
            return
        if not path.exists():
            raise IngestError(
                f"BEIR dataset {str(path)!r} does not exist: pass a folder or .zip with corpus.jsonl."
            )
        try:
            self._file = open_regular(path)
        except NotRegularFile as e:
            raise IngestError(not_regular_reason(path.name, e.mode, refused=True)) from None
        except OSError as e:
            raise IngestError(f"{path.name}: cannot be read ({e.strerror or e}); check its permissions.") from None
        try:
            self.zip = zipfile.ZipFile(self._file)
            infos = [i for i in self.zip.infolist() if not i.is_dir()]
        except ZIP_OPEN_ERRORS as e:
            self.close()
            raise IngestError(f"{path.name}: not a folder or a valid zip file ({e}).") from None
        refusal = archive_refusal(
            infos, archive=path.name, limits=limits or Limits(), fix="unpack it and load the folder instead"
        )
        if refusal:
            self.close()
            raise IngestError(refusal + ".")
        names = [n for n in self.zip.namelist() if PurePosixPath(n).name == "corpus.jsonl"]
        if not names:
            self.close()
            raise IngestError(
                f"{path.name}: no corpus.jsonl inside the zip; a BEIR zip holds corpus.jsonl, queries.jsonl, qrels/."
            )
        parent = str(PurePosixPath(min(names, key=lambda n: n.count("/"))).parent)
        self.root = "" if parent == "." else parent + "/"

    def close(self) -> None:
        """Close the zip and its file (a folder holds nothing open)."""
        if self.zip is not None:
            self.zip.close()
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exists(self, rel: str) -> bool:
        if self.zip is None:  # any kind of entry: a pipe is refused by name when read, not called missing
            return (self.path / rel).exists() and not (self.path / rel).is_dir()
        return self.root + rel in self.zip.namelist()

    def listdir(self, rel: str) -> list[str]:
        if self.zip is None:
            d = self.path / rel
            return sorted(p.name for p in d.iterdir() if not p.is_dir()) if d.is_dir() else []
        prefix = self.root + rel.rstrip("/") + "/"
        return sorted(
            n[len(prefix) :]
            for n in self.zip.namelist()
            if n.startswith(prefix) and "/" not in n[len(prefix) :] and n != prefix
        )

    def lines(self, rel: str) -> Iterator[str]:
        if not self.exists(rel):
            raise IngestError(
                f"{self.label(rel)} is missing: a BEIR dataset needs corpus.jsonl, queries.jsonl and qrels/<split>.tsv."
            )
        if self.zip is None:
            yield from read_lines(self.path / rel, self.label(rel))
            return
        info = self.zip.getinfo(self.root + rel)
        kind = member_kind(info)
        if kind:  # its bytes are a link target or nothing, not the file's content
            raise IngestError(
                f"{self.label(rel)}: {kind} in the zip, not a regular file; re-create the zip with the file itself."
            )
        if info.flag_bits & 0x1:
            raise IngestError(f"{self.label(rel)}: encrypted zip member; unzip it with its password and load the folder.")
        yield from _decoded(self.zip.open(info), self.label(rel), fix="re-create the zip")

    def label(self, rel: str) -> str:
        return f"{self.path.name}:{self.root}{rel}" if self.zip is not None else str(self.path / rel)


@dataclass(frozen=True)
class QrelsFile:
    """Judgments read from a qrels file, and what the reader decided (header row, odd first line)."""

    qrels: Qrels
    notes: tuple[str, ...] = ()  # informational: a standard header row was skipped
    warnings: tuple[str, ...] = ()  # a first line that was skipped although it is no known header


_HEADER_WORDS = frozenset(
    "query-id query_id queryid qid query corpus-id corpus_id corpusid doc-id doc_id docid did "
    "score relevance rel label grade iteration iter q0 0".split()
)


def _grade(score: str) -> int | None:
    """The integer grade a qrels score cell holds ('2', '2.0'), or None when it holds none."""
    try:
        return int(score)
    except ValueError:
        try:
            value = float(score)
        except ValueError:
            return None
        return int(value) if value.is_integer() and math.isfinite(value) else None


def read_qrels(lines: Iterable[str], *, label: str) -> QrelsFile:
    """Parse BEIR tsv (query-id, corpus-id, score; header optional) or TREC qrels (qid 0 docid rel) lines.

    Only the first line may lack an integer score: it is then a header, reported in ``notes`` when its cells
    are the usual column names and in ``warnings`` (with the line) otherwise, so a dropped judgment shows.
    TREC ids written by ``format_trec_qrels`` are %-decoded (see ``encode_trec_id``).
    """
    qrels: Qrels = {}
    notes: list[str] = []
    warnings: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        tabbed = "\t" in line
        cols = line.rstrip("\r\n").split("\t") if tabbed else line.split()
        if len(cols) == 4:  # TREC qrels: qid iteration docid rel
            cols = [cols[0], cols[2], cols[3]]
        if len(cols) != 3:
            raise IngestError(
                f"{label} line {lineno}: expected 3 tab-separated columns (query-id, corpus-id, score) "
                f"or 4 TREC columns (qid 0 docid rel), got {len(cols)}."
            )
        qid, did, score = (c.strip() for c in cols)
        grade = _grade(score)
        if grade is None:
            if lineno != 1:
                raise IngestError(f"{label} line {lineno}: score {score!r} is not an integer grade.")
            if all(c.lower() in _HEADER_WORDS for c in (qid, did, score)):
                notes.append(f"{label}: line 1 ({line.strip()!r}) read as the header row")
            else:
                warnings.append(
                    f"{label}: line 1 ({line.strip()[:80]!r}) has no integer score and was skipped as a header; "
                    "if it is a judgment, give it an integer grade"
                )
            continue
        if abs(grade) > MAX_GRADE:  # 10**20 would reach the judgment store and overflow SQLite's integers
            raise IngestError(
                f"{label} line {lineno}: grade {score[:40]!r} is out of range; a grade is an integer from "
                f"{-MAX_GRADE:,} to {MAX_GRADE:,} (TREC grades are small: -2 to 4)."
            )
        if not tabbed:
            qid, did = decode_trec_id(qid), decode_trec_id(did)
        qrels.setdefault(qid, {})[did] = grade
    return QrelsFile(qrels, tuple(notes), tuple(warnings))


def judged_queries(
    queries: QueriesFile, judgments: QrelsFile, *, queries_label: str, qrels_label: str
) -> tuple[dict[str, str], Qrels, list[str]]:
    """Queries restricted to those with judgments (BEIR), qrels to queries with text, and the warnings why."""
    warnings = [*queries.notes, *judgments.warnings]
    qrels = judgments.qrels
    if not qrels:
        raise IngestError(f"{qrels_label} holds no judgments.")
    no_text = set(queries.no_text)
    missing = [q for q in qrels if q not in queries.queries and q not in no_text]
    if missing:
        warnings.append(
            f"{len(missing)} judged queries are not in {queries_label} and are skipped (e.g. {missing[0]!r})."
        )
    kept = {q: v for q, v in qrels.items() if q in queries.queries}
    if not kept:
        example = next(iter(qrels))
        raise IngestError(
            f"None of the {len(qrels)} judged queries of {qrels_label} has text in {queries_label} "
            f"(e.g. query id {example!r}): the query ids of the two files must match."
        )
    return {q: queries.queries[q] for q in kept}, kept, warnings


def _split_file(src: _Source, split: str | None) -> tuple[str, str]:
    if src.exists("qrels.tsv") and not src.listdir("qrels"):
        return "qrels.tsv", split or "test"
    available = [n[: -len(".tsv")] for n in src.listdir("qrels") if n.endswith(".tsv")]
    if not available:
        raise IngestError(
            f"{src.label('qrels/')}: no qrels/*.tsv found; add qrels/test.tsv (query-id, corpus-id, score)."
        )
    if split is None:
        split = "test" if "test" in available else (available[0] if len(available) == 1 else "")
        if not split:
            raise IngestError(
                f"{src.path.name}: several qrels splits {available}; choose one with split=... (--split)."
            )
    if split not in available:
        raise IngestError(f"{src.path.name}: no qrels/{split}.tsv; available splits: {available}.")
    return f"qrels/{split}.tsv", split


@dataclass(frozen=True)
class BeirParts:
    """A BEIR folder's corpus and all its queries, before any qrels are applied."""

    corpus: Corpus
    queries: QueriesFile
    queries_label: str
    notes: tuple[str, ...]  # what reading corpus.jsonl decided


def load_beir_corpus(path: str | Path, *, name: str = "") -> BeirParts:
    """The corpus and queries of a BEIR folder or zip, without its qrels (for judgments from elsewhere).

    corpus.jsonl goes through ``core.ingest.jsonl.read_corpus_jsonl`` and ``core.ingest.beir_chunks``, the same
    reader and chunk builder as an upload on the Corpus page, so both give the same chunks and sha256.
    """
    with _Source(Path(path)) as src:
        return _corpus_parts(src, Path(path), name)


def _corpus_parts(src: _Source, path: Path, name: str) -> BeirParts:
    corpus_label = src.label("corpus.jsonl")
    read = read_corpus_jsonl(src.lines("corpus.jsonl"), name=corpus_label)
    if not read.docs:
        raise IngestError(f"{corpus_label} holds no documents.")
    if len(read.blank) == len(read.docs):
        raise IngestError(
            f"{corpus_label}: none of its {len(read.docs)} documents has any visible title or text; "
            "there is nothing to retrieve, so the set cannot be evaluated."
        )
    chunks = beir_chunks(read.docs)
    queries_label = src.label("queries.jsonl")
    all_queries = read_queries_jsonl(src.lines("queries.jsonl"), name=queries_label)
    corpus = Corpus(
        chunks=tuple(chunks),
        files=(FileStatus(source=path.name, status="loaded", reason="; ".join(read.notes),
                          encoding="utf-8", chunks=len(chunks)),),
        sha256=corpus_sha256(chunks),
        name=name or path.stem,
    )  # fmt: skip
    return BeirParts(corpus, all_queries, queries_label, tuple(read.notes))


def load_beir(path: str | Path, *, split: str | None = None, name: str = "") -> BeirDataset:
    """Load a BEIR folder or zip; the split defaults to 'test' (or the only qrels/*.tsv there is).

    The corpus and queries are read as ``load_beir_corpus`` does; the queries are then restricted to the
    judged ones of the split.
    """
    with _Source(Path(path)) as src:
        parts = _corpus_parts(src, Path(path), name)
        rel, split = _split_file(src, split)
        judgments = read_qrels(src.lines(rel), label=src.label(rel))
    queries, qrels, warnings = judged_queries(
        parts.queries, judgments, queries_label=parts.queries_label, qrels_label=src.label(rel)
    )
    warnings[:0] = parts.notes
    ids = {c.id for c in parts.corpus.chunks}
    unknown = sum(1 for v in qrels.values() for d in v if d not in ids)
    if unknown:
        warnings.append(
            f"{unknown} judgments name documents not in corpus.jsonl (they still count as relevant)."
        )
    return BeirDataset(
        corpus=parts.corpus,
        queries=queries,
        qrels=qrels,
        name=parts.corpus.name,
        split=split,
        warnings=tuple(warnings),
        notes=judgments.notes,
    )


_TREC_UNSAFE = re.compile(r"[%\s\x00-\x1f\x7f]")


def encode_trec_id(value: str) -> str:
    """An id as one whitespace-free TREC field: '%', whitespace and controls %-encoded as UTF-8 (RFC 3986).

    ``annual report.md`` becomes ``annual%20report.md``; ids without such characters are unchanged, and
    ``decode_trec_id`` (used by ``read_trec_run`` and ``read_qrels``) restores the original. Only an empty
    id cannot be written (IngestError); the readers refuse empty ids, so runs never hold one.
    """
    if not value:
        raise IngestError(
            "An empty id cannot be written to a TREC file; every query and document needs an id."
        )
    return _TREC_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), value)


def decode_trec_id(value: str) -> str:
    """Inverse of ``encode_trec_id`` (ids without '%' are returned as they are)."""
    return unquote(value, errors="strict") if "%" in value else value


def format_trec_run(
    run: Mapping[str, Mapping[str, float]], *, tag: str = "run", depth: int | None = None
) -> str:
    """TREC run text ``qid Q0 docid rank score tag``, ranked in trec_eval order (score desc, id desc).

    Ids and the tag are written with ``encode_trec_id`` (whitespace %-encoded), so any id can be exported.
    """
    tag = encode_trec_id(tag)
    out: list[str] = []
    for qid in sorted(run):
        q = encode_trec_id(qid)
        for rank, did in enumerate(ranked(run[qid])[:depth], start=1):
            out.append(f"{q} Q0 {encode_trec_id(did)} {rank} {float(run[qid][did])!r} {tag}")
    return "\n".join(out) + ("\n" if out else "")


def format_trec_qrels(qrels: Mapping[str, Mapping[str, int]]) -> str:
    """TREC qrels text ``qid 0 docid grade`` (trec_eval, ranx); ids as in ``format_trec_run``."""
    lines = [
        f"{encode_trec_id(q)} 0 {encode_trec_id(d)} {int(g)}"
        for q in sorted(qrels)
        for d, g in sorted(qrels[q].items())
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def format_beir_qrels(qrels: Mapping[str, Mapping[str, int]]) -> str:
    """BEIR qrels tsv with header ``query-id corpus-id score``."""
    rows = ["query-id\tcorpus-id\tscore"] + [
        f"{q}\t{d}\t{int(g)}" for q in sorted(qrels) for d, g in sorted(qrels[q].items())
    ]
    return "\n".join(rows) + "\n"


def read_trec_run(text: str, *, label: str = "run") -> Run:
    """Parse ``qid Q0 docid rank score tag`` lines back into a run dict (ids %-decoded, see ``encode_trec_id``)."""
    run: Run = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cols = line.split()
        if len(cols) != 6:
            raise IngestError(
                f"{label} line {lineno}: expected 6 columns 'qid Q0 docid rank score tag', got {len(cols)}."
            )
        try:
            run.setdefault(decode_trec_id(cols[0]), {})[decode_trec_id(cols[2])] = float(cols[4])
        except ValueError as e:
            raise IngestError(f"{label} line {lineno}: score {cols[4]!r} is not a number.") from e
    return run
