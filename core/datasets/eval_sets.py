"""Judged evaluation sets: a BEIR folder/zip, or a judged folder (docs/ + queries.jsonl + qrels.tsv).

Loading only; searching and scoring them is ``core.evaluation.run``. Both kinds come back as a
``BeirDataset`` whose ``warnings`` say what was skipped (queries without text or judgments, blank or
repeated documents, an odd qrels header) and whose ``notes`` say what was decided (the header row).
"""

from __future__ import annotations

from pathlib import Path

from core.datasets.beir import BeirDataset, judged_queries, load_beir, read_lines, read_qrels
from core.errors import IngestError
from core.ingest import load_corpus, read_queries_jsonl


def is_judged_folder(path: Path) -> bool:
    """A folder with docs/ (files judged by their path) rather than a BEIR corpus.jsonl."""
    return path.is_dir() and (path / "docs").is_dir() and not (path / "corpus.jsonl").exists()


def load_judged_folder(path: Path, *, split: str | None = None) -> BeirDataset:
    """docs/ loaded as an uploaded folder would be; qrels name documents by their path inside docs/."""
    for name in ("queries.jsonl", "qrels.tsv"):  # any kind of entry: a pipe is refused by name when read
        if not (path / name).exists() or (path / name).is_dir():
            raise IngestError(
                f"{path / name} is missing: a judged folder holds docs/, queries.jsonl and qrels.tsv."
            )
    corpus = load_corpus(path / "docs")
    queries_label, qrels_label = str(path / "queries.jsonl"), str(path / "qrels.tsv")
    # regular files only, opened without blocking (a named pipe there is refused, never waited on)
    all_queries = read_queries_jsonl(read_lines(path / "queries.jsonl", queries_label), name=queries_label)
    judgments = read_qrels(read_lines(path / "qrels.tsv", qrels_label), label=qrels_label)
    queries, qrels, warnings = judged_queries(
        all_queries, judgments, queries_label=queries_label, qrels_label=qrels_label
    )
    if not corpus.chunks:
        raise IngestError(f"{path / 'docs'}: no file with text to embed, so the set cannot be evaluated.")
    return BeirDataset(
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        name=path.name,
        split=split or "test",
        warnings=tuple(warnings),
        notes=judgments.notes,
    )


def load_eval_set(path: str | Path, *, split: str | None = None) -> BeirDataset:
    """A BEIR folder/zip, or a judged folder (docs/ + queries.jsonl + qrels.tsv, doc ids = paths in docs/)."""
    p = Path(path)
    return load_judged_folder(p, split=split) if is_judged_folder(p) else load_beir(p, split=split)
