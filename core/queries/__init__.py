"""Test queries written from a team's own corpus by an LLM: a stratified sample of chunks, one query per chunk in
a chosen language and type, stated filters, provenance on every query, the source-chunk qrels, JSONL in and out."""

from __future__ import annotations

from core.queries.filters import FILTER_ORDER, FILTER_RULES, first_failure, longest_copied_span, normalise
from core.queries.generate import (
    check_languages,
    default_languages,
    estimate,
    generate_queries,
    same_family_warning,
)
from core.queries.io import QueryFileError, qrels_path, read_queries, write_queries
from core.queries.prompts import (
    PASSAGE_CHARS,
    PROMPT_VERSION,
    QUERY_TYPES,
    TYPE_RULES,
    Ask,
    build_prompt,
    clean_answer,
    plan_asks,
)
from core.queries.records import (
    BIAS_NOTE,
    QRELS_RULE,
    SOURCE_GRADE,
    Dropped,
    GeneratedQuery,
    GeneratedSet,
    Provenance,
    QrelsLevel,
    qrels_of,
)
from core.queries.sampling import SAMPLING_RULES, StrataReport, Stratum, sample_chunks, skip_reason

__all__ = [
    "Ask",
    "BIAS_NOTE",
    "Dropped",
    "FILTER_ORDER",
    "FILTER_RULES",
    "GeneratedQuery",
    "GeneratedSet",
    "PASSAGE_CHARS",
    "PROMPT_VERSION",
    "Provenance",
    "QRELS_RULE",
    "QUERY_TYPES",
    "QrelsLevel",
    "QueryFileError",
    "SAMPLING_RULES",
    "SOURCE_GRADE",
    "StrataReport",
    "Stratum",
    "TYPE_RULES",
    "build_prompt",
    "check_languages",
    "clean_answer",
    "default_languages",
    "estimate",
    "first_failure",
    "generate_queries",
    "longest_copied_span",
    "normalise",
    "plan_asks",
    "qrels_of",
    "qrels_path",
    "read_queries",
    "same_family_warning",
    "sample_chunks",
    "skip_reason",
    "write_queries",
]
