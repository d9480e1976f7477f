"""BEIR datasets in (folder or zip: corpus.jsonl, queries.jsonl, qrels/<split>.tsv) and TREC runs / qrels out.

Import follows BEIR's GenericDataLoader as MTEB uses it: one chunk per document with id = ``_id`` and the
title kept, so ``chunk.embed_text == (title + " " + text).strip()``; queries are restricted to those that
have judgments; grades are integers. Exports write files trec_eval and ranx read unchanged.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core.errors import IngestError
from core.ingest.corpus import corpus_sha256
from core.metrics import Qrels, Run, ranked
from core.types import Chunk, Corpus, FileStatus


@dataclass(frozen=True)
class BeirDataset:
    """A loaded BEIR split; unpacks as ``corpus, queries, qrels = load_beir(path)``."""

    corpus: Corpus
    queries: dict[str, str]
    qrels: Qrels
    name: str = ""
    split: str = "test"
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __iter__(self) -> Iterator:
        return iter((self.corpus, self.queries, self.qrels))


class _Source:
    """Uniform read access to a BEIR folder or zip (members addressed relative to the dataset root)."""

    def __init__(self, path: Path):
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.root = ""
        if path.is_dir():
            return
        if not path.exists():
            raise IngestError(
                f"BEIR dataset {str(path)!r} does not exist: pass a folder or .zip with corpus.jsonl."
            )
        try:
            self.zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as e:
            raise IngestError(f"{path.name}: not a folder or a valid zip file ({e}).") from e
        names = [n for n in self.zip.namelist() if PurePosixPath(n).name == "corpus.jsonl"]
        if not names:
            raise IngestError(
                f"{path.name}: no corpus.jsonl inside the zip; a BEIR zip holds corpus.jsonl, queries.jsonl, qrels/."
            )
        parent = str(PurePosixPath(min(names, key=lambda n: n.count("/"))).parent)
        self.root = "" if parent == "." else parent + "/"

    def exists(self, rel: str) -> bool:
        if self.zip is None:
            return (self.path / rel).is_file()
        return self.root + rel in self.zip.namelist()

    def listdir(self, rel: str) -> list[str]:
        if self.zip is None:
            d = self.path / rel
            return sorted(p.name for p in d.iterdir() if p.is_file()) if d.is_dir() else []
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
        raw = self.zip.open(self.root + rel) if self.zip is not None else open(self.path / rel, "rb")  # noqa: SIM115
        with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict") as fh:
            try:
                yield from fh
            except UnicodeDecodeError as e:
                raise IngestError(f"{self.label(rel)}: not UTF-8 ({e}); re-save the file as UTF-8.") from e

    def label(self, rel: str) -> str:
        return f"{self.path.name}:{self.root}{rel}" if self.zip is not None else str(self.path / rel)


def _jsonl(src: _Source, rel: str) -> Iterator[tuple[int, dict]]:
    for lineno, line in enumerate(src.lines(rel), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise IngestError(f"{src.label(rel)} line {lineno}: invalid JSON ({e.msg}).") from e
        if not isinstance(obj, dict) or "_id" not in obj:
            raise IngestError(f"{src.label(rel)} line {lineno}: expected an object with '_id' and 'text'.")
        yield lineno, obj


def _text(value: object, where: str, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IngestError(f"{where}: {key!r} must be a string, got {type(value).__name__}.")
    return value


def _grade(score: str) -> int | None:
    try:
        return int(score)
    except ValueError:
        try:
            value = float(score)
        except ValueError:
            return None
        return int(value) if value.is_integer() else None


def read_qrels_lines(lines: Iterator[str], *, label: str) -> Qrels:
    """Parse BEIR tsv (query-id, corpus-id, score; header optional) or TREC qrels (qid 0 docid rel) lines."""
    qrels: Qrels = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cols = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
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
            if lineno == 1:  # header row such as "query-id corpus-id score"
                continue
            raise IngestError(f"{label} line {lineno}: score {score!r} is not an integer grade.")
        qrels.setdefault(qid, {})[did] = grade
    return qrels


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


def load_beir(path: str | Path, *, split: str | None = None, name: str = "") -> BeirDataset:
    """Load a BEIR folder or zip; the split defaults to 'test' (or the only qrels/*.tsv there is)."""
    src = _Source(Path(path))
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for lineno, obj in _jsonl(src, "corpus.jsonl"):
        where = f"{src.label('corpus.jsonl')} line {lineno}"
        did = str(obj["_id"])
        if did in seen:
            raise IngestError(f"{where}: duplicate _id {did!r}; document ids must be unique.")
        seen.add(did)
        text, title = _text(obj.get("text"), where, "text"), _text(obj.get("title"), where, "title")
        if not title:  # MTEB embeds (title + " " + text).strip(); without a title that is text.strip()
            text = text.strip()
        chunks.append(Chunk(id=did, source=did, text=text, end=len(text), title=title))
    if not chunks:
        raise IngestError(f"{src.label('corpus.jsonl')} holds no documents.")
    all_queries: dict[str, str] = {}
    for lineno, obj in _jsonl(src, "queries.jsonl"):
        all_queries[str(obj["_id"])] = _text(
            obj.get("text"), f"{src.label('queries.jsonl')} line {lineno}", "text"
        )
    rel, split = _split_file(src, split)
    qrels = read_qrels_lines(src.lines(rel), label=src.label(rel))
    if not qrels:
        raise IngestError(f"{src.label(rel)} holds no judgments.")
    warnings: list[str] = []
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        warnings.append(
            f"{len(missing)} judged queries have no text in queries.jsonl and are skipped (e.g. {missing[0]!r})."
        )
        qrels = {q: v for q, v in qrels.items() if q in all_queries}
    unknown = sum(1 for v in qrels.values() for d in v if d not in seen)
    if unknown:
        warnings.append(
            f"{unknown} judgments name documents not in corpus.jsonl (they still count as relevant)."
        )
    queries = {q: all_queries[q] for q in qrels}  # BEIR keeps only judged queries
    label = name or Path(path).stem
    corpus = Corpus(
        chunks=tuple(chunks),
        files=(FileStatus(source=Path(path).name, status="loaded", encoding="utf-8", chunks=len(chunks)),),
        sha256=corpus_sha256(tuple(chunks)),
        name=label,
    )
    return BeirDataset(
        corpus=corpus, queries=queries, qrels=qrels, name=label, split=split, warnings=tuple(warnings)
    )


def _check_id(kind: str, value: str) -> str:
    if not value or any(ch.isspace() for ch in value):
        raise IngestError(
            f"{kind} {value!r} is empty or contains whitespace, which TREC files cannot hold; rename it."
        )
    return value


def format_trec_run(
    run: Mapping[str, Mapping[str, float]], *, tag: str = "run", depth: int | None = None
) -> str:
    """TREC run text ``qid Q0 docid rank score tag``, ranked in trec_eval order (score desc, id desc)."""
    tag = _check_id("Run tag", tag)
    out: list[str] = []
    for qid in sorted(run):
        _check_id("Query id", qid)
        for rank, did in enumerate(ranked(run[qid])[:depth], start=1):
            out.append(f"{qid} Q0 {_check_id('Document id', did)} {rank} {float(run[qid][did])!r} {tag}")
    return "\n".join(out) + ("\n" if out else "")


def format_trec_qrels(qrels: Mapping[str, Mapping[str, int]]) -> str:
    """TREC qrels text ``qid 0 docid grade`` (trec_eval, ranx)."""
    lines = [
        f"{_check_id('Query id', q)} 0 {_check_id('Document id', d)} {int(g)}"
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
    """Parse ``qid Q0 docid rank score tag`` lines back into a run dict."""
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
            run.setdefault(cols[0], {})[cols[2]] = float(cols[4])
        except ValueError as e:
            raise IngestError(f"{label} line {lineno}: score {cols[4]!r} is not a number.") from e
    return run
