"""Corpus ingestion: read any file a team has, decode, chunk, tag language, report per-file status."""

from core.ingest.corpus import corpus_sha256, load_corpus, load_files
from core.ingest.decode import Decoded, decode_bytes
from core.ingest.language import detect_language, is_mixed_zh_en
from core.ingest.options import ChunkOptions, Limits
from core.ingest.readers import SUPPORTED_EXTS, is_supported, read_file
from core.ingest.tokens import count_over_window, estimate_tokens, over_window_note, token_counts

__all__ = [
    "SUPPORTED_EXTS",
    "ChunkOptions",
    "Decoded",
    "Limits",
    "corpus_sha256",
    "count_over_window",
    "decode_bytes",
    "detect_language",
    "estimate_tokens",
    "is_mixed_zh_en",
    "is_supported",
    "load_corpus",
    "load_files",
    "over_window_note",
    "read_file",
    "token_counts",
]
