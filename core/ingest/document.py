"""What a reader hands to the chunker: the decoded text and its structural sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.errors import IngestError
from core.ingest.jsonl import BeirDoc
from core.types import FileState

# what a reader made of a file (the chunker and the language tagger act on it)
ExtractedKind = Literal["text", "markdown", "rst", "code", "html", "pdf", "json", "csv", "beir"]


class EmptyText(IngestError):
    """A file with nothing visible to embed (no bytes, only whitespace, or only invisible characters)."""


@dataclass(frozen=True)
class Section:
    """A span of ``Extracted.text`` that chunks never cross (a heading's body, a page, a def, a row)."""

    start: int
    end: int
    heading: tuple[str, ...] = ()
    page: int | None = None  # 1-based PDF page
    line: int | None = None  # source line of this section when it differs from the text's own lines (CSV)
    merge: bool = False  # may be merged with neighbours when small (code definitions)


@dataclass
class Extracted:
    """A file read into text: chunk spans index into ``text``."""

    text: str
    encoding: str
    kind: ExtractedKind
    sections: list[Section] = field(default_factory=list)
    line_numbers: bool = True  # lines of ``text`` are the source's lines
    notes: list[str] = field(default_factory=list)  # warnings shown with the file's status
    docs: list[BeirDoc] = field(default_factory=list)  # kind == "beir" only
    title: str = ""  # PDF metadata title: untrusted text, control characters removed, capped


__all__ = ["BeirDoc", "EmptyText", "Extracted", "ExtractedKind", "FileState", "Section"]
