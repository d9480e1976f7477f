"""Corpus ingestion: read any file a team has, decode, chunk, tag language, report per-file status."""

from __future__ import annotations

from core.ingest.cache import INGEST_VERSION, IngestCache
from core.ingest.chunking import Tokenizer
from core.ingest.corpus import (
    NotRegularFile,
    beir_chunks,
    corpus_sha256,
    load_corpus,
    load_files,
    not_regular_reason,
    open_regular,
)
from core.ingest.decode import Decoded, decode_bytes
from core.ingest.jsonl import QueriesFile, read_corpus_jsonl, read_queries_jsonl
from core.ingest.language import (
    LANGUAGE_NAMES,
    MIXED_SHARE,
    UNKNOWN,
    code_prose,
    corpus_language,
    detect_language,
    is_mixed_zh_en,
    language_name,
    language_pair_name,
    language_shares,
    markdown_prose,
)
from core.ingest.options import DEFAULT_CHUNKING, ChunkOptions, Limits
from core.ingest.readers import CODE_EXTS, DATA_EXTS, SUPPORTED_EXTS, extension, is_supported, read_file
from core.ingest.tokens import count_over_window, estimate_tokens, over_window_note, token_counts
from core.ingest.zipsafe import (
    ZIP_MEMBER_ERRORS,
    ZIP_OPEN_ERRORS,
    archive_refusal,
    member_kind,
    safe_member_name,
)

__all__ = [
    "ZIP_MEMBER_ERRORS",
    "ZIP_OPEN_ERRORS",
    "CODE_EXTS",
    "ChunkOptions",
    "DATA_EXTS",
    "INGEST_VERSION",
    "IngestCache",
    "DEFAULT_CHUNKING",
    "Decoded",
    "LANGUAGE_NAMES",
    "Limits",
    "MIXED_SHARE",
    "UNKNOWN",
    "NotRegularFile",
    "QueriesFile",
    "SUPPORTED_EXTS",
    "Tokenizer",
    "archive_refusal",
    "beir_chunks",
    "code_prose",
    "corpus_language",
    "corpus_sha256",
    "count_over_window",
    "decode_bytes",
    "detect_language",
    "estimate_tokens",
    "extension",
    "is_mixed_zh_en",
    "is_supported",
    "language_name",
    "language_pair_name",
    "language_shares",
    "load_corpus",
    "load_files",
    "markdown_prose",
    "member_kind",
    "not_regular_reason",
    "open_regular",
    "over_window_note",
    "read_corpus_jsonl",
    "read_file",
    "read_queries_jsonl",
    "safe_member_name",
    "token_counts",
]
