"""Options that shape ingestion: how to chunk, and the size limits that protect the machine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import IngestError

MB = 1024 * 1024
ChunkUnit = Literal["chars", "tokens"]
# Default (size, overlap) per chunking unit: the one place these numbers live.
DEFAULT_CHUNKING: dict[ChunkUnit, tuple[int, int]] = {"chars": (800, 100), "tokens": (256, 32)}
TOKENIZER_NEEDED = "ChunkOptions(unit='tokens') needs a tokenizer; pass tokenizer= or use unit='chars'"


@dataclass(frozen=True)
class ChunkOptions:
    """How files are cut into chunks (size and overlap in ``unit``; None picks the unit's default)."""

    unit: ChunkUnit = "chars"  # tokens need a HF fast tokenizer
    size: int | None = None  # default 800 chars / 256 tokens
    overlap: int | None = None  # default 100 chars / 32 tokens
    structure: bool = True  # split at Markdown headings, PDF pages, top-level code definitions
    csv_column: str | None = None  # text column of .csv/.tsv files; None = longest text column

    def __post_init__(self) -> None:
        if self.unit not in ("chars", "tokens"):
            raise IngestError(f"ChunkOptions.unit={self.unit!r} is not valid; use 'chars' or 'tokens'")
        if self.size is not None and self.size < 1:
            raise IngestError(f"ChunkOptions.size={self.size} must be at least 1")
        if self.overlap is not None and self.overlap < 0:
            raise IngestError(f"ChunkOptions.overlap={self.overlap} must be >= 0")
        if self.overlap is not None and self.overlap >= self.chunk_size:
            raise IngestError(
                f"ChunkOptions.overlap={self.overlap} must be smaller than size={self.chunk_size}; "
                "lower the overlap or raise the size"
            )

    @property
    def chunk_size(self) -> int:
        """Effective chunk size in ``unit``."""
        if self.size is not None:
            return self.size
        return DEFAULT_CHUNKING[self.unit][0]

    @property
    def chunk_overlap(self) -> int:
        """Effective overlap in ``unit`` (never more than half the size when defaulted)."""
        if self.overlap is not None:
            return self.overlap
        default = DEFAULT_CHUNKING[self.unit][1]
        return min(default, self.chunk_size // 2)


@dataclass(frozen=True)
class Limits:
    """Size limits for one load; anything beyond them is refused per file with a message."""

    max_file_bytes: int = 200 * MB  # same as server.maxUploadSize in .streamlit/config.toml
    max_total_bytes: int = 1024 * MB  # all files of one load, zip members counted uncompressed
    max_line_chars: int = 1_000_000  # a longer single line is machine data, not text to search
    zip_max_members: int = 10_000
    zip_max_total_bytes: int = 1024 * MB  # declared uncompressed size of one archive
    zip_max_ratio: float = 200.0  # uncompressed / compressed, per member and per archive
    zip_max_depth: int = 2  # zip inside zip inside zip... (1 = no nested zips)
