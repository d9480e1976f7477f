"""Judged datasets in and out: BEIR folders and zips, judged folders, TREC qrels and runs, judgments and votes as CSV."""

from __future__ import annotations

from core.datasets.beir import (
    BeirDataset,
    QrelsFile,
    format_beir_qrels,
    format_trec_run,
    judged_queries,
    load_beir,
    load_beir_corpus,
    read_qrels,
)
from core.datasets.eval_sets import is_judged_folder, load_eval_set, load_judged_folder
from core.datasets.qrels_io import (
    format_judgments_csv,
    format_trec_qrels,
    format_votes_csv,
    parse_judgments_csv,
    parse_trec_qrels,
    qrels_judgments,
)

__all__ = [
    "BeirDataset",
    "QrelsFile",
    "format_beir_qrels",
    "format_judgments_csv",
    "format_trec_qrels",
    "format_trec_run",
    "format_votes_csv",
    "is_judged_folder",
    "judged_queries",
    "load_beir",
    "load_beir_corpus",
    "load_eval_set",
    "load_judged_folder",
    "parse_judgments_csv",
    "parse_trec_qrels",
    "qrels_judgments",
    "read_qrels",
]
