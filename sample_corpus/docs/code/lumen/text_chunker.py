"""Structure-aware text chunking used by the Lumen ingestion pipeline (文本切块).

Markdown is split at headings first so that every chunk keeps its heading path; long sections are
then cut into windows of ``size`` characters with ``overlap`` characters of context, preferring to
break at paragraph or sentence ends (including the Chinese full stop 。). Every chunk records its
character span so the search UI can highlight the exact passage in the original file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
BREAKS = ("\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ")


@dataclass(frozen=True)
class TextChunk:
    """A span of the source text plus the headings above it."""

    text: str
    start: int
    end: int
    headings: tuple[str, ...]


def split_sections(markdown: str) -> list[tuple[tuple[str, ...], int, int]]:
    """Return (heading path, start, end) for each section of a Markdown document."""
    marks = [(m.start(), len(m.group(1)), m.group(2)) for m in HEADING.finditer(markdown)]
    if not marks or marks[0][0] != 0:
        marks.insert(0, (0, 0, ""))
    sections = []
    path: list[tuple[int, str]] = []
    for i, (pos, level, title) in enumerate(marks):
        if level:
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
        end = marks[i + 1][0] if i + 1 < len(marks) else len(markdown)
        if markdown[pos:end].strip():
            sections.append((tuple(t for _, t in path), pos, end))
    return sections


def _cut(text: str, start: int, end: int, size: int) -> int:
    """Pick a cut point <= start + size, as late as possible at a natural break."""
    hard = min(end, start + size)
    if hard == end:
        return end
    window = text[start:hard]
    for sep in BREAKS:
        idx = window.rfind(sep)
        if idx > size // 2:
            return start + idx + len(sep)
    return hard


def chunk_text(text: str, *, size: int = 1200, overlap: int = 150, markdown: bool = True) -> list[TextChunk]:
    """Split ``text`` into overlapping chunks; ``text[c.start:c.end] == c.text`` for every chunk."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got size={size}, overlap={overlap}")
    sections = split_sections(text) if markdown else [((), 0, len(text))]
    chunks: list[TextChunk] = []
    for headings, sec_start, sec_end in sections:
        pos = sec_start
        while pos < sec_end:
            cut = _cut(text, pos, sec_end, size)
            piece = text[pos:cut]
            if piece.strip():
                chunks.append(TextChunk(piece, pos, cut, headings))
            if cut >= sec_end:
                break
            pos = max(cut - overlap, pos + 1)
    return chunks


if __name__ == "__main__":
    sample = "# 共识机制\n\n区块链需要共识。" * 3 + "\n## PoW\n\n" + "工作量证明依赖算力。" * 80
    for c in chunk_text(sample, size=200, overlap=20):
        print(c.start, c.end, " > ".join(c.headings), repr(c.text[:20]))
